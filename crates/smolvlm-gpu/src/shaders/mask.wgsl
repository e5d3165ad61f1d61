// x[ids[i]] = value for i < n (ids at or past `len` are skipped): how greedy decoding on the
// GPU masks the stop tokens until `min_new_tokens` exist (transformers'
// MinNewTokensLengthLogitsProcessor sets them to -inf; the lowest finite f32 gives the same
// argmax and stays clear of drivers that assume no infinities).

struct Params {
    n: u32,
    len: u32,
    value: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> ids: array<u32>;
@group(0) @binding(2) var<storage, read_write> x: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    if (i < p.n) {
        let id = ids[i];
        if (id < p.len) {
            x[id] = p.value;
        }
    }
}
