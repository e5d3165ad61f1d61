//! Tensor names: the Hub checkpoint's (what the model asks for) against llama.cpp's, as
//! `convert_hf_to_gguf.py` writes them (gguf-py `tensor_mapping.py` / `constants.py`:
//! `LLAMA` for the text model, `MMPROJ` + `SmolVLMModel` for the vision side), and the
//! row permutation the converter applies to the Q and K projections.

/// Which file of the pair a tensor lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Part {
    Text,
    Mmproj,
}

/// Whether a tensor's rows are permuted for llama.cpp's RoPE, and over how many heads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rope {
    /// `q_proj`: permuted per attention head.
    Query,
    /// `k_proj`: permuted per key/value head.
    Key,
}

/// A Hub name's place in the GGUF pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GgufName {
    pub part: Part,
    pub name: String,
    pub rope: Option<Rope>,
}

// (Hub suffix under `model.text_model.layers.N.`, GGUF suffix under `blk.N.`)
const TEXT_LAYER: &[(&str, &str)] = &[
    ("input_layernorm.weight", "attn_norm.weight"),
    ("post_attention_layernorm.weight", "ffn_norm.weight"),
    ("self_attn.q_proj.weight", "attn_q.weight"),
    ("self_attn.q_proj.bias", "attn_q.bias"),
    ("self_attn.k_proj.weight", "attn_k.weight"),
    ("self_attn.k_proj.bias", "attn_k.bias"),
    ("self_attn.v_proj.weight", "attn_v.weight"),
    ("self_attn.v_proj.bias", "attn_v.bias"),
    ("self_attn.o_proj.weight", "attn_output.weight"),
    ("self_attn.o_proj.bias", "attn_output.bias"),
    ("mlp.gate_proj.weight", "ffn_gate.weight"),
    ("mlp.gate_proj.bias", "ffn_gate.bias"),
    ("mlp.up_proj.weight", "ffn_up.weight"),
    ("mlp.up_proj.bias", "ffn_up.bias"),
    ("mlp.down_proj.weight", "ffn_down.weight"),
    ("mlp.down_proj.bias", "ffn_down.bias"),
];

const TEXT_GLOBAL: &[(&str, &str)] = &[
    ("model.text_model.embed_tokens.weight", "token_embd.weight"),
    ("model.text_model.norm.weight", "output_norm.weight"),
    ("lm_head.weight", "output.weight"),
];

// (Hub suffix under `model.vision_model.encoder.layers.N.`, GGUF suffix under `v.blk.N.`)
const VISION_LAYER: &[(&str, &str)] = &[
    ("layer_norm1.weight", "ln1.weight"),
    ("layer_norm1.bias", "ln1.bias"),
    ("layer_norm2.weight", "ln2.weight"),
    ("layer_norm2.bias", "ln2.bias"),
    ("self_attn.q_proj.weight", "attn_q.weight"),
    ("self_attn.q_proj.bias", "attn_q.bias"),
    ("self_attn.k_proj.weight", "attn_k.weight"),
    ("self_attn.k_proj.bias", "attn_k.bias"),
    ("self_attn.v_proj.weight", "attn_v.weight"),
    ("self_attn.v_proj.bias", "attn_v.bias"),
    ("self_attn.out_proj.weight", "attn_out.weight"),
    ("self_attn.out_proj.bias", "attn_out.bias"),
    ("mlp.fc1.weight", "ffn_up.weight"),
    ("mlp.fc1.bias", "ffn_up.bias"),
    ("mlp.fc2.weight", "ffn_down.weight"),
    ("mlp.fc2.bias", "ffn_down.bias"),
];

const VISION_GLOBAL: &[(&str, &str)] = &[
    (
        "model.vision_model.embeddings.patch_embedding.weight",
        "v.patch_embd.weight",
    ),
    (
        "model.vision_model.embeddings.patch_embedding.bias",
        "v.patch_embd.bias",
    ),
    (
        "model.vision_model.embeddings.position_embedding.weight",
        "v.position_embd.weight",
    ),
    (
        "model.vision_model.post_layernorm.weight",
        "v.post_ln.weight",
    ),
    ("model.vision_model.post_layernorm.bias", "v.post_ln.bias"),
    (
        "model.connector.modality_projection.proj.weight",
        "mm.model.fc.weight",
    ),
];

const TEXT_LAYERS: &str = "model.text_model.layers.";
const VISION_LAYERS: &str = "model.vision_model.encoder.layers.";

/// Splits `prefix` + `N.` + rest, returning (N, rest).
fn layer_of<'a>(name: &'a str, prefix: &str) -> Option<(usize, &'a str)> {
    let rest = name.strip_prefix(prefix)?;
    let (n, rest) = rest.split_once('.')?;
    Some((n.parse().ok()?, rest))
}

/// The GGUF name of a Hub tensor, or None for a tensor llama.cpp does not keep.
pub fn to_gguf(hub: &str) -> Option<GgufName> {
    let found = |part, name: String, rope| Some(GgufName { part, name, rope });
    if let Some(&(_, g)) = TEXT_GLOBAL.iter().find(|(h, _)| *h == hub) {
        return found(Part::Text, g.to_string(), None);
    }
    if let Some(&(_, g)) = VISION_GLOBAL.iter().find(|(h, _)| *h == hub) {
        return found(Part::Mmproj, g.to_string(), None);
    }
    if let Some((n, rest)) = layer_of(hub, TEXT_LAYERS) {
        let &(_, g) = TEXT_LAYER.iter().find(|(h, _)| *h == rest)?;
        let rope = if rest.starts_with("self_attn.q_proj.") {
            Some(Rope::Query)
        } else if rest.starts_with("self_attn.k_proj.") {
            Some(Rope::Key)
        } else {
            None
        };
        return found(Part::Text, format!("blk.{n}.{g}"), rope);
    }
    if let Some((n, rest)) = layer_of(hub, VISION_LAYERS) {
        let &(_, g) = VISION_LAYER.iter().find(|(h, _)| *h == rest)?;
        return found(Part::Mmproj, format!("v.blk.{n}.{g}"), None);
    }
    None
}

/// The Hub name of a GGUF tensor of `part`, or None for a name we do not know.
pub fn to_hub(part: Part, gguf: &str) -> Option<String> {
    let (global, layers, layer_prefix, hub_prefix) = match part {
        Part::Text => (TEXT_GLOBAL, TEXT_LAYER, "blk.", TEXT_LAYERS),
        Part::Mmproj => (VISION_GLOBAL, VISION_LAYER, "v.blk.", VISION_LAYERS),
    };
    if let Some(&(h, _)) = global.iter().find(|(_, g)| *g == gguf) {
        return Some(h.to_string());
    }
    let (n, rest) = layer_of(gguf, layer_prefix)?;
    let &(h, _) = layers.iter().find(|(_, g)| *g == rest)?;
    Some(format!("{hub_prefix}{n}.{h}"))
}

/// For each destination row, the source row of llama.cpp's Q/K permutation.
///
/// The converter (`LlamaModel.permute`) reorders each head's rows from rotate-half order
/// (first half, second half) to interleaved pairs:
/// `w.reshape(heads, 2, head_dim / 2, ...).swapaxes(1, 2)`, i.e. GGUF row
/// `h*hd + 2j + t` holds Hub row `h*hd + t*hd/2 + j`. With `to_gguf` false this gives the
/// inverse, which turns a GGUF tensor back into the Hub layout that the model's
/// rotate-half RoPE expects.
pub fn rope_row_order(rows: usize, heads: usize, to_gguf: bool) -> Option<Vec<usize>> {
    if heads == 0 || !rows.is_multiple_of(heads) || !(rows / heads).is_multiple_of(2) {
        return None;
    }
    let hd = rows / heads;
    let half = hd / 2;
    let mut order = vec![0; rows];
    for h in 0..heads {
        for j in 0..half {
            for t in 0..2 {
                let interleaved = h * hd + 2 * j + t;
                let halves = h * hd + t * half + j;
                if to_gguf {
                    order[interleaved] = halves;
                } else {
                    order[halves] = interleaved;
                }
            }
        }
    }
    Some(order)
}

/// Rows of `row_bytes` bytes each, reordered: destination row i is source row `order[i]`.
/// Quantized rows are whole blocks, so this works on any GGML type.
pub fn reorder_rows(data: &[u8], row_bytes: usize, order: &[usize]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    for &src in order {
        out.extend_from_slice(&data[src * row_bytes..(src + 1) * row_bytes]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for hub in [
            "model.text_model.layers.3.self_attn.k_proj.weight",
            "model.text_model.layers.0.mlp.down_proj.weight",
            "lm_head.weight",
            "model.vision_model.encoder.layers.11.mlp.fc1.bias",
            "model.vision_model.embeddings.patch_embedding.weight",
            "model.connector.modality_projection.proj.weight",
        ] {
            let g = to_gguf(hub).unwrap();
            assert_eq!(to_hub(g.part, &g.name).as_deref(), Some(hub), "{g:?}");
        }
        let k = to_gguf("model.text_model.layers.3.self_attn.k_proj.weight").unwrap();
        assert_eq!(
            (k.name.as_str(), k.rope),
            ("blk.3.attn_k.weight", Some(Rope::Key))
        );
        assert_eq!(
            to_gguf("model.vision_model.encoder.layers.1.self_attn.out_proj.weight")
                .unwrap()
                .name,
            "v.blk.1.attn_out.weight"
        );
        assert_eq!(to_gguf("model.text_model.rotary_emb.inv_freq"), None);
    }

    /// The converter's permute, written out for one head of 4 rows: rows (a, b | c, d)
    /// in rotate-half order become (a, c, b, d).
    #[test]
    fn rope_order_interleaves_the_halves_and_inverts() {
        assert_eq!(rope_row_order(4, 1, true).unwrap(), vec![0, 2, 1, 3]);
        let fwd = rope_row_order(24, 3, true).unwrap();
        let inv = rope_row_order(24, 3, false).unwrap();
        for (i, &s) in fwd.iter().enumerate() {
            assert_eq!(inv[s], i);
        }
        assert_eq!(rope_row_order(6, 4, true), None);
    }
}
