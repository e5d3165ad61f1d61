//! Small pieces shared by the pages.

mod copy;
mod score;
mod shell;
mod tool_card;

pub use copy::CopySnippet;
pub use score::{ScoreBar, VerdictPill};
pub use shell::Shell;
pub use tool_card::{Avatar, ToolCard};
