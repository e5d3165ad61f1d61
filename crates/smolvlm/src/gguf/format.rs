//! The GGUF container, read from bytes and written to bytes, laid out as llama.cpp's
//! gguf-py writes it (version 3, little-endian, 32-byte alignment).
//!
//! Spec: <https://github.com/ggml-org/ggml/blob/master/docs/gguf.md>; the writer follows
//! `gguf-py/gguf/gguf_writer.py` of llama.cpp.
//!
//! Hand-written instead of candle's `quantized::gguf_file`, for three reasons measured on
//! candle 0.11: its reader divides by a `general.alignment` taken from the file (a crafted
//! 0 panics), copies every tensor twice on the way in, and its writer writes GGUF version 2
//! where llama.cpp writes 3. Metadata values are candle's [`Value`], so nothing else in the
//! crate needs to know the difference; tensor blocks are decoded by candle.

use candle_core::quantized::gguf_file::Value;
use candle_core::quantized::GgmlDType;

use super::keys;

/// The first four bytes of every GGUF file.
pub const MAGIC: &[u8; 4] = b"GGUF";
/// The version llama.cpp writes (3 differs from 2 only by allowing big-endian files).
pub const VERSION: u32 = 3;
/// `general.alignment` when a file does not set it (the spec's default).
pub const DEFAULT_ALIGNMENT: usize = 32;
/// Arrays of arrays are allowed by the spec; nothing real nests deeper than this.
const MAX_DEPTH: usize = 8;
/// Metadata values may take at most this many times the file's bytes once parsed (plus
/// 1 MiB): each value is a `Value` of 32 bytes, so a 20 MB array of bytes would otherwise
/// become 640 MB. Real files hold their vocabulary in well under 2x.
const METADATA_MEMORY_RATIO: usize = 4;

/// One tensor as the file describes it.
#[derive(Debug, Clone)]
pub struct TensorInfo {
    pub name: String,
    pub dtype: GgmlDType,
    /// Dimensions innermost first, as GGUF stores them (`ne[0]` is the row length).
    pub ne: Vec<usize>,
    /// Absolute byte offset of the data in the file.
    pub start: usize,
    /// Bytes of data.
    pub size: usize,
}

impl TensorInfo {
    /// Dimensions outermost first, as candle and PyTorch write shapes.
    pub fn dims(&self) -> Vec<usize> {
        self.ne.iter().rev().copied().collect()
    }

    /// Elements per row (`ne[0]`).
    pub fn row_len(&self) -> usize {
        self.ne[0]
    }

    /// Bytes per row: whole quantization blocks.
    pub fn row_bytes(&self) -> usize {
        self.ne[0] / self.dtype.block_size() * self.dtype.type_size()
    }
}

/// A parsed GGUF file: metadata in file order, tensor descriptions in file order.
#[derive(Debug, Clone)]
pub struct Parsed {
    pub version: u32,
    pub metadata: Vec<(String, Value)>,
    pub tensors: Vec<TensorInfo>,
    pub alignment: usize,
}

/// GGML's type codes (`enum ggml_type` in ggml.h) and names, from the table of types.
pub use crate::weight_type::{
    ggml_dtype_from_id as dtype_from_code, ggml_type_id as dtype_code, ggml_type_name as dtype_name,
};

// Value type codes (`enum gguf_type`).
const T_U8: u32 = 0;
const T_I8: u32 = 1;
const T_U16: u32 = 2;
const T_I16: u32 = 3;
const T_U32: u32 = 4;
const T_I32: u32 = 5;
const T_F32: u32 = 6;
const T_BOOL: u32 = 7;
const T_STRING: u32 = 8;
const T_ARRAY: u32 = 9;
const T_U64: u32 = 10;
const T_I64: u32 = 11;
const T_F64: u32 = 12;

fn value_code(v: &Value) -> u32 {
    match v {
        Value::U8(_) => T_U8,
        Value::I8(_) => T_I8,
        Value::U16(_) => T_U16,
        Value::I16(_) => T_I16,
        Value::U32(_) => T_U32,
        Value::I32(_) => T_I32,
        Value::F32(_) => T_F32,
        Value::Bool(_) => T_BOOL,
        Value::String(_) => T_STRING,
        Value::Array(_) => T_ARRAY,
        Value::U64(_) => T_U64,
        Value::I64(_) => T_I64,
        Value::F64(_) => T_F64,
    }
}

/// Bytes one value of a type takes at least (strings: their length prefix).
fn min_size(code: u32) -> usize {
    match code {
        T_U8 | T_I8 | T_BOOL => 1,
        T_U16 | T_I16 => 2,
        T_U32 | T_I32 | T_F32 => 4,
        T_U64 | T_I64 | T_F64 | T_STRING => 8,
        _ => 12, // an array: type + length
    }
}

/// Reads little-endian fields, every read bounds-checked (a short file is an error, never
/// a panic).
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    /// Metadata values parsed so far (array elements each count).
    values: usize,
}

impl<'a> Reader<'a> {
    fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    fn take(&mut self, n: usize, what: &dyn Fn() -> String) -> Result<&'a [u8], String> {
        if n > self.remaining() {
            return Err(format!(
                "file is truncated: {} at byte {} needs {n} bytes, only {} remain",
                what(),
                self.pos,
                self.remaining()
            ));
        }
        let s = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn array<const N: usize>(&mut self, what: &dyn Fn() -> String) -> Result<[u8; N], String> {
        let s = self.take(N, what)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    fn u32(&mut self, what: &dyn Fn() -> String) -> Result<u32, String> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    fn u64(&mut self, what: &dyn Fn() -> String) -> Result<u64, String> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    /// A length that must fit in what is left of the file, `unit` bytes per element.
    fn len(&mut self, unit: usize, what: &dyn Fn() -> String) -> Result<usize, String> {
        let at = self.pos;
        let n = self.u64(what)?;
        let needed = (n as u128) * unit as u128;
        if needed > self.remaining() as u128 {
            return Err(format!(
                "file is truncated or corrupt: {} at byte {at} declares {n} elements ({needed} bytes at least), only {} bytes remain",
                what(),
                self.remaining()
            ));
        }
        Ok(n as usize)
    }

    fn string(&mut self, what: &dyn Fn() -> String) -> Result<String, String> {
        let n = self.len(1, what)?;
        let s = self.take(n, what)?;
        // Vocabularies hold the odd invalid byte sequence; llama.cpp does not reject them,
        // so neither do we (candle's reader is lossy the same way).
        Ok(String::from_utf8_lossy(s).into_owned())
    }

    fn value(&mut self, code: u32, depth: usize, key: &str) -> Result<Value, String> {
        let what = || format!("metadata `{key}`");
        Ok(match code {
            T_U8 => Value::U8(self.array::<1>(&what)?[0]),
            T_I8 => Value::I8(i8::from_le_bytes(self.array(&what)?)),
            T_U16 => Value::U16(u16::from_le_bytes(self.array(&what)?)),
            T_I16 => Value::I16(i16::from_le_bytes(self.array(&what)?)),
            T_U32 => Value::U32(u32::from_le_bytes(self.array(&what)?)),
            T_I32 => Value::I32(i32::from_le_bytes(self.array(&what)?)),
            T_U64 => Value::U64(u64::from_le_bytes(self.array(&what)?)),
            T_I64 => Value::I64(i64::from_le_bytes(self.array(&what)?)),
            T_F32 => Value::F32(f32::from_le_bytes(self.array(&what)?)),
            T_F64 => Value::F64(f64::from_le_bytes(self.array(&what)?)),
            T_BOOL => match self.array::<1>(&what)?[0] {
                0 => Value::Bool(false),
                1 => Value::Bool(true),
                b => return Err(format!("metadata `{key}`: {b} is not a boolean (0 or 1)")),
            },
            T_STRING => Value::String(self.string(&what)?),
            T_ARRAY => {
                if depth >= MAX_DEPTH {
                    return Err(format!(
                        "metadata `{key}`: arrays nested deeper than {MAX_DEPTH}"
                    ));
                }
                let elem = self.u32(&what)?;
                if elem > T_F64 {
                    return Err(format!(
                        "metadata `{key}`: unknown array element type {elem}"
                    ));
                }
                let n = self.len(min_size(elem), &what)?;
                self.values = self.values.saturating_add(n);
                let budget = METADATA_MEMORY_RATIO * self.bytes.len() + (1 << 20);
                if self.values.saturating_mul(std::mem::size_of::<Value>()) > budget {
                    return Err(format!(
                        "metadata `{key}`: {} metadata values in all would take more than {METADATA_MEMORY_RATIO}x the file's {} bytes in memory",
                        self.values,
                        self.bytes.len()
                    ));
                }
                let mut items = Vec::with_capacity(n);
                for _ in 0..n {
                    items.push(self.value(elem, depth + 1, key)?);
                }
                Value::Array(items)
            }
            other => return Err(format!("metadata `{key}`: unknown value type {other}")),
        })
    }
}

/// The GGUF value of `general.alignment`, if it is an unsigned integer.
fn alignment_of(metadata: &[(String, Value)]) -> Result<usize, String> {
    let Some((_, v)) = metadata.iter().find(|(k, _)| k == keys::GENERAL_ALIGNMENT) else {
        return Ok(DEFAULT_ALIGNMENT);
    };
    let a = match v {
        Value::U8(a) => *a as u64,
        Value::U16(a) => *a as u64,
        Value::U32(a) => *a as u64,
        Value::U64(a) => *a,
        other => {
            return Err(format!(
                "metadata `general.alignment` must be an unsigned integer, got {other:?}"
            ))
        }
    };
    // As llama.cpp's gguf.cpp: a power of two.
    if a == 0 || !a.is_power_of_two() || a > 1 << 20 {
        return Err(format!(
            "metadata `general.alignment` = {a} is not a power of two of at most 1 MiB"
        ));
    }
    Ok(a as usize)
}

/// Parses the header, metadata and tensor descriptions of a GGUF file, and checks that
/// every tensor's data lies inside `bytes`. Errors are plain sentences (no file name).
pub fn parse(bytes: &[u8]) -> Result<Parsed, String> {
    if bytes.len() < 4 || &bytes[..4] != MAGIC {
        return Err("not a GGUF file (it does not start with the bytes `GGUF`)".into());
    }
    let mut r = Reader {
        bytes,
        pos: 4,
        values: 0,
    };
    let version = r.u32(&|| "the version".into())?;
    match version {
        2 | 3 => {}
        1 => return Err("GGUF version 1 is not supported (nor by llama.cpp)".into()),
        v if v.swap_bytes() <= 3 => {
            return Err(format!(
                "version {v} reads as a big-endian GGUF file, which is not supported"
            ))
        }
        v => return Err(format!("unsupported GGUF version {v}")),
    }
    // Each tensor description takes at least 8 + 4 + 8 + 4 + 8 bytes, each key/value 8 + 4 + 1.
    let n_tensors = r.len(32, &|| "the tensor count".into())?;
    let n_kv = r.len(13, &|| "the metadata count".into())?;
    let mut metadata = Vec::with_capacity(n_kv);
    // Each name once, checked in O(1) (a crafted file has hundreds of thousands).
    let mut seen = std::collections::HashSet::with_capacity(n_kv);
    for i in 0..n_kv {
        let key = r.string(&|| format!("metadata key #{i}"))?;
        let code = r.u32(&|| format!("the type of metadata `{key}`"))?;
        let value = r.value(code, 0, &key)?;
        if !seen.insert(key.clone()) {
            return Err(format!("metadata key `{key}` appears twice"));
        }
        metadata.push((key, value));
    }
    let alignment = alignment_of(&metadata)?;

    struct Raw {
        name: String,
        dtype: GgmlDType,
        ne: Vec<usize>,
        offset: u64,
    }
    let mut raws = Vec::with_capacity(n_tensors);
    let mut seen = std::collections::HashSet::with_capacity(n_tensors);
    for i in 0..n_tensors {
        let name = r.string(&|| format!("the name of tensor #{i}"))?;
        let what = || format!("tensor `{name}`");
        let n_dims = r.u32(&what)?;
        if !(1..=4).contains(&n_dims) {
            return Err(format!(
                "tensor `{name}` has {n_dims} dimensions (GGUF allows 1 to 4)"
            ));
        }
        let mut ne = Vec::with_capacity(n_dims as usize);
        for _ in 0..n_dims {
            let d = r.u64(&what)?;
            if d == 0 || d > u32::MAX as u64 {
                return Err(format!("tensor `{name}` has a dimension of {d}"));
            }
            ne.push(d as usize);
        }
        let code = r.u32(&what)?;
        let dtype = dtype_from_code(code).ok_or_else(|| {
            format!("tensor `{name}` has unknown or unsupported GGML type {code}")
        })?;
        let offset = r.u64(&what)?;
        if !seen.insert(name.clone()) {
            return Err(format!("tensor `{name}` appears twice"));
        }
        raws.push(Raw {
            name,
            dtype,
            ne,
            offset,
        });
    }
    let data_start = r.pos.div_ceil(alignment) * alignment;

    let mut tensors = Vec::with_capacity(raws.len());
    for t in raws {
        let block = t.dtype.block_size();
        if t.ne[0] % block != 0 {
            return Err(format!(
                "tensor `{}`: rows of {} values are not whole {} blocks of {block}",
                t.name,
                t.ne[0],
                dtype_name(t.dtype)
            ));
        }
        let elems =
            t.ne.iter()
                .try_fold(1u128, |acc, &d| acc.checked_mul(d as u128))
                .unwrap_or(u128::MAX);
        let size = elems / block as u128 * t.dtype.type_size() as u128;
        if t.offset % alignment as u64 != 0 {
            return Err(format!(
                "tensor `{}`: data offset {} is not a multiple of the alignment {alignment}",
                t.name, t.offset
            ));
        }
        let start = data_start as u128 + t.offset as u128;
        let end = start + size;
        if end > bytes.len() as u128 {
            return Err(format!(
                "file is truncated: tensor `{}` ({:?} {}) needs bytes {start}..{end}, the file has {}",
                t.name,
                t.ne,
                dtype_name(t.dtype),
                bytes.len()
            ));
        }
        tensors.push(TensorInfo {
            name: t.name,
            dtype: t.dtype,
            ne: t.ne,
            start: start as usize,
            size: size as usize,
        });
    }
    Ok(Parsed {
        version,
        metadata,
        tensors,
        alignment,
    })
}

/// A tensor to write: its data already in its GGML type.
pub struct TensorOut<'a> {
    pub name: &'a str,
    pub dtype: GgmlDType,
    /// Dimensions outermost first (candle's order); written reversed, as GGUF stores them.
    pub dims: &'a [usize],
    pub data: &'a [u8],
}

fn put_string(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u64).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn put_value(out: &mut Vec<u8>, v: &Value) -> Result<(), String> {
    match v {
        Value::U8(x) => out.push(*x),
        Value::I8(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::U16(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::I16(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::U32(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::I32(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::U64(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::I64(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::F32(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::F64(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::Bool(x) => out.push(u8::from(*x)),
        Value::String(s) => put_string(out, s),
        Value::Array(items) => {
            let code = match items.first() {
                Some(first) => value_code(first),
                None => return Err("an empty metadata array has no element type".into()),
            };
            if items.iter().any(|i| value_code(i) != code) {
                return Err("a metadata array mixes value types".into());
            }
            out.extend_from_slice(&code.to_le_bytes());
            out.extend_from_slice(&(items.len() as u64).to_le_bytes());
            for item in items {
                put_value(out, item)?;
            }
        }
    }
    Ok(())
}

fn pad(out: &mut Vec<u8>, alignment: usize) {
    let n = out.len().div_ceil(alignment) * alignment - out.len();
    out.resize(out.len() + n, 0);
}

/// Serializes a GGUF file as gguf-py's `GGUFWriter` does: header, metadata in the given
/// order, tensor descriptions, zero padding to the alignment, then each tensor's data
/// padded to the alignment.
pub fn write(metadata: &[(String, Value)], tensors: &[TensorOut]) -> Result<Vec<u8>, String> {
    let alignment = alignment_of(metadata)?;
    let mut out = Vec::new();
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&(tensors.len() as u64).to_le_bytes());
    out.extend_from_slice(&(metadata.len() as u64).to_le_bytes());
    for (key, value) in metadata {
        put_string(&mut out, key);
        out.extend_from_slice(&value_code(value).to_le_bytes());
        put_value(&mut out, value).map_err(|e| format!("metadata `{key}`: {e}"))?;
    }
    let mut offset = 0usize;
    for t in tensors {
        let elems: usize = t.dims.iter().product();
        let expected = elems / t.dtype.block_size() * t.dtype.type_size();
        if t.data.len() != expected || !elems.is_multiple_of(t.dtype.block_size()) {
            return Err(format!(
                "tensor `{}`: {} bytes of data for shape {:?} in {}",
                t.name,
                t.data.len(),
                t.dims,
                dtype_name(t.dtype)
            ));
        }
        put_string(&mut out, t.name);
        out.extend_from_slice(&(t.dims.len() as u32).to_le_bytes());
        for &d in t.dims.iter().rev() {
            out.extend_from_slice(&(d as u64).to_le_bytes());
        }
        out.extend_from_slice(&dtype_code(t.dtype).to_le_bytes());
        out.extend_from_slice(&(offset as u64).to_le_bytes());
        offset += t.data.len().div_ceil(alignment) * alignment;
    }
    pad(&mut out, alignment);
    for t in tensors {
        out.extend_from_slice(t.data);
        pad(&mut out, alignment);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_metadata_order_and_tensor_bytes() {
        let meta = vec![
            (
                keys::GENERAL_ARCHITECTURE.to_string(),
                Value::String("llama".into()),
            ),
            ("a.u32".to_string(), Value::U32(7)),
            (
                "a.list".to_string(),
                Value::Array(vec![Value::F32(0.5), Value::F32(-1.0)]),
            ),
        ];
        let data: Vec<u8> = (0..24u8).collect();
        let bytes = write(
            &meta,
            &[TensorOut {
                name: "t",
                dtype: GgmlDType::F32,
                dims: &[2, 3],
                data: &data,
            }],
        )
        .unwrap();
        assert_eq!(bytes.len() % 32, 0);
        let p = parse(&bytes).unwrap();
        assert_eq!(p.version, 3);
        let keys: Vec<&str> = p.metadata.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, [keys::GENERAL_ARCHITECTURE, "a.u32", "a.list"]);
        assert_eq!(p.tensors[0].ne, vec![3, 2]);
        assert_eq!(p.tensors[0].dims(), vec![2, 3]);
        let t = &p.tensors[0];
        assert_eq!(&bytes[t.start..t.start + t.size], &data[..]);
    }

    #[test]
    fn zero_alignment_is_an_error_not_a_division_by_zero() {
        let meta = vec![(keys::GENERAL_ALIGNMENT.to_string(), Value::U32(32))];
        let mut bytes = write(&meta, &[]).unwrap();
        // Patch the stored alignment value (the last 4 bytes of the only key/value) to 0.
        let key_end = 4 + 4 + 8 + 8 + 8 + keys::GENERAL_ALIGNMENT.len() + 4;
        bytes[key_end..key_end + 4].copy_from_slice(&0u32.to_le_bytes());
        let err = parse(&bytes).unwrap_err();
        assert!(err.contains(keys::GENERAL_ALIGNMENT), "{err}");
    }
}
