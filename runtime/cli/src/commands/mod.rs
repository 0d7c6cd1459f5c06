pub mod agent;
pub mod bench;
pub mod db;
pub mod proof;
pub mod run;
pub mod runs;
pub mod skill;
