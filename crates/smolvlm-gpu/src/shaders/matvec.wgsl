// y[r] = sum_c W[r, c] * x[c] (+ bias[r]) (+ res[r]) for one vector x (decode).
//
// W is one chunk of a GGUF weight (rows rows, each `row_bytes` long) read in its block
// layout through `w_load4` (quant.wgsl). A workgroup of 256 invocations handles
// ROWS rows; the LANES invocations of a row walk its 4-value groups with stride LANES, so
// neighbouring invocations read neighbouring bytes, then reduce in workgroup memory.
// Accumulation is f32 throughout.

struct Params {
    rows: u32,       // rows in this chunk
    cols: u32,       // values per row (multiple of 4 and of BLOCK_ELEMS)
    row_bytes: u32,  // bytes per row in the GGUF layout
    y_offset: u32,   // where row 0 of this chunk lands in y (and in bias/res)
    flags: u32,      // 1: add bias, 2: add res
    x_offset: u32,   // first vec4 of x
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> w: array<u32>;
@group(0) @binding(2) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;
@group(0) @binding(5) var<storage, read> res: array<f32>;

const LANES: u32 = 32u;
const ROWS: u32 = 8u;

var<workgroup> red: array<f32, 256>;

@compute @workgroup_size(256)
fn main(
    @builtin(local_invocation_index) li: u32,
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let lane = li % LANES;
    let row = (wg.y * nwg.x + wg.x) * ROWS + li / LANES;
    var acc = 0.0;
    if (row < p.rows) {
        let rb = row * p.row_bytes;
        let groups = p.cols / 4u;
        for (var g = lane; g < groups; g += LANES) {
            let e = g * 4u;
            let blk = e / BLOCK_ELEMS;
            acc += dot(w_load4(rb + blk * BLOCK_BYTES, e - blk * BLOCK_ELEMS), x[p.x_offset + g]);
        }
    }
    red[li] = acc;
    workgroupBarrier();
    for (var s = LANES / 2u; s > 0u; s >>= 1u) {
        if (lane < s) {
            red[li] += red[li + s];
        }
        workgroupBarrier();
    }
    if (lane == 0u && row < p.rows) {
        let o = p.y_offset + row;
        var v = red[li];
        if ((p.flags & 1u) != 0u) {
            v += bias[o];
        }
        if ((p.flags & 2u) != 0u) {
            v += res[o];
        }
        y[o] = v;
    }
}
