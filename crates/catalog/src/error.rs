//! Errors found while loading `content/`: each names the file and the field.

use std::fmt;

/// One problem in the content, naming the file (as given to
/// [`Catalog::from_files`](crate::Catalog::from_files)) and the field (a TOML key path such
/// as `review[2].score`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContentError {
    /// The file is not valid TOML, or has a key of the wrong type or an unknown key.
    #[error("{file}: {message}")]
    Syntax { file: String, message: String },
    /// A required field is absent (or empty).
    #[error("{file}: missing required field `{field}`")]
    MissingField { file: String, field: String },
    /// A reviewer score outside 0–100.
    #[error("{file}: `{field}`: score {value} is outside 0–100")]
    ScoreOutOfRange {
        file: String,
        field: String,
        value: i64,
    },
    /// A comparison names a tool that no `tools/*.toml` file defines.
    #[error("{file}: `{field}`: unknown tool `{slug}` (no file in content/tools/ has this slug)")]
    UnknownTool {
        file: String,
        field: String,
        slug: String,
    },
    /// A review names a persona that `personas.toml` does not define.
    #[error("{file}: `{field}`: unknown persona `{slug}` (known: {known})")]
    UnknownPersona {
        file: String,
        field: String,
        slug: String,
        known: String,
    },
    /// Two files (or two entries) claim the same slug.
    #[error("{file}: `{field}`: duplicate slug `{slug}`, already used by {first_file}")]
    DuplicateSlug {
        file: String,
        field: String,
        slug: String,
        first_file: String,
    },
    /// The split or percentage the source states disagrees with the reviews' ship/skip
    /// (or with each other).
    #[error("{file}: `{field}`: the file states {stated}, but {derived_from} gives {derived}")]
    PanelMismatch {
        file: String,
        field: String,
        stated: String,
        derived: String,
        derived_from: String,
    },
    /// Any other bad value (slug format, empty text, wrong number of tools, ...).
    #[error("{file}: `{field}`: {message}")]
    Invalid {
        file: String,
        field: String,
        message: String,
    },
    /// A `.toml` file outside the known places.
    #[error(
        "{file}: not a content file (expected personas.toml, tools/<slug>.toml or compare/<a>-vs-<b>.toml)"
    )]
    UnknownFile { file: String },
}

impl ContentError {
    /// The file the problem is in.
    pub fn file(&self) -> &str {
        match self {
            ContentError::Syntax { file, .. }
            | ContentError::MissingField { file, .. }
            | ContentError::ScoreOutOfRange { file, .. }
            | ContentError::UnknownTool { file, .. }
            | ContentError::UnknownPersona { file, .. }
            | ContentError::DuplicateSlug { file, .. }
            | ContentError::PanelMismatch { file, .. }
            | ContentError::Invalid { file, .. }
            | ContentError::UnknownFile { file } => file,
        }
    }

    /// The field the problem is in, where there is one.
    pub fn field(&self) -> Option<&str> {
        match self {
            ContentError::MissingField { field, .. }
            | ContentError::ScoreOutOfRange { field, .. }
            | ContentError::UnknownTool { field, .. }
            | ContentError::UnknownPersona { field, .. }
            | ContentError::DuplicateSlug { field, .. }
            | ContentError::PanelMismatch { field, .. }
            | ContentError::Invalid { field, .. } => Some(field),
            ContentError::Syntax { .. } | ContentError::UnknownFile { .. } => None,
        }
    }
}

/// Every problem found in one load: the loader reports them all at once rather than
/// stopping at the first, so that a person editing `content/` fixes them in one go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    pub errors: Vec<ContentError>,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.errors.len();
        write!(
            f,
            "{n} problem{} in the content:",
            if n == 1 { "" } else { "s" }
        )?;
        for e in &self.errors {
            write!(f, "\n  - {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for LoadError {}
