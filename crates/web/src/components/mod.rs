//! Small pieces shared by the pages.

mod community;
mod copy;
mod ocr;
mod score;
mod shell;
mod tool_card;
mod try_it;

pub use community::CommunityVote;
pub use copy::CopySnippet;
pub use ocr::OcrApp;
pub use score::{ScoreBar, VerdictPill};
pub use shell::Shell;
pub use tool_card::{Avatar, ToolCard};
pub use try_it::{runs_here, TryIt};
