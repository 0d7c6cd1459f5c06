pub mod agent;
pub mod db;
pub mod keys;
pub mod proof;
pub mod run;
pub mod runs;
pub mod skill;
pub mod verify;
