// Greedy sampling on the GPU: out[out_off] = index of the largest of x[0..n], the first
// one on ties (as torch.argmax). One workgroup; each invocation scans a strided slice,
// then (value, index) pairs are reduced in workgroup memory.

struct Params {
    n: u32,
    out_off: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<u32>;

const WG: u32 = 256u;
var<workgroup> best_v: array<f32, WG>;
var<workgroup> best_i: array<u32, WG>;

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) li: u32) {
    var bv = -3.402823e38;
    var bi = 0xffffffffu;
    for (var j = li; j < p.n; j += WG) {
        let v = x[j];
        if (v > bv || bi == 0xffffffffu) {
            bv = v;
            bi = j;
        }
    }
    best_v[li] = bv;
    best_i[li] = bi;
    workgroupBarrier();
    for (var h = WG / 2u; h > 0u; h >>= 1u) {
        if (li < h) {
            let ov = best_v[li + h];
            let oi = best_i[li + h];
            let mv = best_v[li];
            let mi = best_i[li];
            if (oi != 0xffffffffu && (mi == 0xffffffffu || ov > mv || (ov == mv && oi < mi))) {
                best_v[li] = ov;
                best_i[li] = oi;
            }
        }
        workgroupBarrier();
    }
    if (li == 0u) {
        out[p.out_off] = best_i[0];
    }
}
