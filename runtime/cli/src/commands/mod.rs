pub mod agent;
pub mod db;
pub mod proof;
pub mod run;
pub mod runs;
pub mod secret;
pub mod skill;
