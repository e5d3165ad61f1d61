// Rotate-half RoPE (Llama / transformers `apply_rotary_pos_emb`), token t at position
// pos0 + t, for x laid out [tokens, heads, head_dim]:
//   out[i]        = x[i] * cos - x[i + half] * sin
//   out[i + half] = x[i + half] * cos + x[i] * sin        (i < half = head_dim / 2)
// cos/sin come from a table made on the host (`RopeTable`), the way transformers makes
// them (f32 inv_freq, f32 angle), because GPU sin/cos of large angles are not accurate.
// The output may go to an offset in another buffer: that is how K lands in the KV cache.

struct Params {
    total: u32,     // tokens * heads * half
    heads: u32,
    half: u32,
    pos0: u32,
    in_off: u32,    // element offsets
    out_off: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> cs: array<vec2<f32>>; // [pos][half] (cos, sin)
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let idx = gid.y * nwg.x * 64u + gid.x;
    if (idx >= p.total) {
        return;
    }
    let i = idx % p.half;
    let th = idx / p.half;          // token * heads + head
    let t = th / p.heads;
    let base = th * 2u * p.half;    // start of this (token, head) vector
    let c = cs[(p.pos0 + t) * p.half + i];
    let x1 = x[p.in_off + base + i];
    let x2 = x[p.in_off + base + i + p.half];
    y[p.out_off + base + i] = x1 * c.x - x2 * c.y;
    y[p.out_off + base + i + p.half] = x2 * c.x + x1 * c.y;
}
