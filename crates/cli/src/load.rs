//! Finding and reading a model: `--model` (and `--mmproj`) name a Hub-layout folder or a
//! GGUF pair; their files are read from disk and loaded by `smolvlm::bundle`, the loader
//! the browser worker uses too, so both run the same model for the same files.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use candle_core::Device;
use smolvlm::bundle::{self, Files, Layout, Loaded, BESIDE, SAFETENSORS, SAFETENSORS_INDEX};

/// What `--model` (and `--mmproj`) point at.
pub enum ModelFiles {
    /// A folder with `config.json`, `model.safetensors`, `tokenizer.json`, ...
    HubFolder(PathBuf),
    /// A text `.gguf` with its `mmproj` `.gguf`.
    Gguf { model: PathBuf, mmproj: PathBuf },
}

impl ModelFiles {
    pub fn from_args(model: &Path, mmproj: Option<&Path>) -> Result<Self> {
        if model.is_dir() {
            if mmproj.is_some() {
                bail!(
                    "--mmproj goes with a text .gguf model, not with a folder ({})",
                    model.display()
                );
            }
            return Ok(Self::HubFolder(model.to_path_buf()));
        }
        if !model.exists() {
            bail!("--model {}: no such file or folder", model.display());
        }
        if model
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("gguf"))
        {
            let Some(mmproj) = mmproj else {
                bail!(
                    "--model {} is a GGUF file: give its vision part with --mmproj",
                    model.display()
                );
            };
            let same = std::fs::canonicalize(model)
                .ok()
                .is_some_and(|m| std::fs::canonicalize(mmproj).ok() == Some(m));
            if same {
                bail!(
                    "--model and --mmproj are the same file ({}): --model takes the text .gguf, --mmproj its vision .gguf (usually named mmproj-…)",
                    model.display()
                );
            }
            return Ok(Self::Gguf {
                model: model.to_path_buf(),
                mmproj: mmproj.to_path_buf(),
            });
        }
        bail!(
            "--model {}: expected a Hub-layout folder or a .gguf file",
            model.display()
        )
    }
}

impl ModelFiles {
    /// The paths, for messages.
    fn label(&self) -> String {
        match self {
            Self::HubFolder(dir) => dir.display().to_string(),
            Self::Gguf { model, mmproj } => {
                format!("{} with {}", model.display(), mmproj.display())
            }
        }
    }
}

/// A model file's size limit: above any model a browser or this CLI loads (2.2B at F16 is
/// 4.5 GB), far below what would hang reading a device that never ends.
const MAX_MODEL_FILE_BYTES: u64 = 64 << 30;

/// Reads a regular file of at most `max` bytes (a device such as /dev/zero, a FIFO or a
/// larger file is refused before anything is read).
pub fn read_file(path: &Path, max: u64) -> Result<Vec<u8>> {
    use std::io::Read;
    let file = std::fs::File::open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        bail!("not a regular file");
    }
    if meta.len() > max {
        bail!("{} bytes, more than the {max} this takes", meta.len());
    }
    let mut bytes = Vec::new();
    // A file that grows while it is read stops at the limit too.
    file.take(max + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        bail!("more than the {max} bytes this takes");
    }
    Ok(bytes)
}

fn read(dir: &Path, name: &str) -> Result<Vec<u8>> {
    let path = dir.join(name);
    read_file(&path, MAX_MODEL_FILE_BYTES).with_context(|| format!("reading {}", path.display()))
}

fn read_optional(dir: &Path, name: &str) -> Result<Option<Vec<u8>>> {
    if !dir.join(name).is_file() {
        return Ok(None);
    }
    Ok(Some(read(dir, name)?))
}

/// The safetensors files of a checkpoint: `model.safetensors`, or the shards listed in
/// `model.safetensors.index.json`.
pub(crate) fn weight_files(dir: &Path) -> Result<Vec<(String, Vec<u8>)>> {
    if let Some(bytes) = read_optional(dir, SAFETENSORS)? {
        return Ok(vec![(SAFETENSORS.into(), bytes)]);
    }
    let Some(index) = read_optional(dir, SAFETENSORS_INDEX)? else {
        bail!(
            "{}: no {SAFETENSORS} (nor {SAFETENSORS_INDEX}) in the model folder",
            dir.display()
        );
    };
    bundle::shard_names(&index)?
        .into_iter()
        .map(|name| Ok((name.clone(), read(dir, &name)?)))
        .collect()
}

/// Reads what the loader may use from disk: the weights and every Hub file that is there.
/// Nothing missing is an error here; the loader names what it lacks.
pub fn read_files(files: &ModelFiles) -> Result<(Layout, Files)> {
    let mut out = Files::new();
    let (layout, dir) = match files {
        ModelFiles::HubFolder(dir) => {
            for name in ["config.json", SAFETENSORS, SAFETENSORS_INDEX] {
                if let Some(bytes) = read_optional(dir, name)? {
                    out.insert(name, bytes);
                }
            }
            if let Some(index) = out.get(SAFETENSORS_INDEX) {
                for name in bundle::shard_names(index)? {
                    if let Some(bytes) = read_optional(dir, &name)? {
                        out.insert(name, bytes);
                    }
                }
            }
            (Layout::HubFolder, dir.as_path())
        }
        ModelFiles::Gguf { model, mmproj } => {
            // Named by path: two files of one name in different folders stay apart.
            let (text, vision) = (model.display().to_string(), mmproj.display().to_string());
            let read_arg = |path: &Path, arg: &str| {
                read_file(path, MAX_MODEL_FILE_BYTES)
                    .with_context(|| format!("reading {arg} {}", path.display()))
            };
            out.insert(text.clone(), read_arg(model, "--model")?);
            out.insert(vision.clone(), read_arg(mmproj, "--mmproj")?);
            let layout = Layout::Gguf {
                text,
                mmproj: vision,
                either_order: false,
            };
            (layout, model.parent().unwrap_or(Path::new(".")))
        }
    };
    for name in BESIDE {
        if out.get(name).is_none() {
            if let Some(bytes) = read_optional(dir, name)? {
                out.insert(*name, bytes);
            }
        }
    }
    Ok((layout, out))
}

/// Loads the model with `smolvlm`'s loader, the one the browser worker uses.
pub fn load(files: &ModelFiles, device: &Device) -> Result<Loaded> {
    let (layout, bytes) = read_files(files)?;
    bundle::load(&layout, bytes, device)
        .with_context(|| format!("loading the model {}", files.label()))
}
