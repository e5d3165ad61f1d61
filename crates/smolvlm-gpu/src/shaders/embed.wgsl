// Embedding rows gathered from a (possibly quantized) GGUF table:
// y[t, :] = dequant(W[ids[t], :]) for the rows held by this chunk of the table
// (rows row0 .. row0 + rows); other ids are left to the other chunks' dispatches.
// An id past the whole table writes zeros rather than reading out of bounds.

struct Params {
    tokens: u32,
    cols: u32,
    row_bytes: u32,
    row0: u32,
    rows: u32,
    vocab: u32,   // rows of the whole table
    ids_off: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> w: array<u32>;
@group(0) @binding(2) var<storage, read> ids: array<u32>;
@group(0) @binding(3) var<storage, read_write> y: array<vec4<f32>>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let groups = p.cols / 4u;
    let idx = gid.y * nwg.x * 64u + gid.x;
    if (idx >= p.tokens * groups) {
        return;
    }
    let t = idx / groups;
    let g = idx % groups;
    let id = ids[p.ids_off + t];
    if (id >= p.vocab) {
        if (p.row0 == 0u) {
            y[idx] = vec4<f32>(0.0);
        }
        return;
    }
    if (id < p.row0 || id >= p.row0 + p.rows) {
        return;
    }
    let e = g * 4u;
    let blk = e / BLOCK_ELEMS;
    y[idx] = w_load4((id - p.row0) * p.row_bytes + blk * BLOCK_BYTES, e - blk * BLOCK_ELEMS);
}
