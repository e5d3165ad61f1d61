// Y[m, n] = sum_k X[m, k] * W[n, k] (+ bias[n]) (+ res[m, n]) for prefill and the vision
// encoder: X row-major f32 activations, W one chunk of a GGUF weight in its block layout.
//
// Tiled: a workgroup of 16x16 invocations computes a 64x64 tile of Y, 4x4 values each,
// stepping through K 16 at a time. Both operands are staged in workgroup memory as
// [k][m] / [k][n] (2 x 4 KiB, well under the 16 KiB every WebGPU adapter offers), and a
// quantized W tile is dequantized on the fly while staging. Accumulation is f32.

struct Params {
    m: u32,          // rows of X and Y
    n: u32,          // rows of this W chunk (columns of Y it produces)
    k: u32,          // inner size (multiple of 4 and of BLOCK_ELEMS)
    row_bytes: u32,  // bytes per W row
    n_offset: u32,   // first column of Y (and of bias) this chunk produces
    ldy: u32,        // row stride of Y and res
    flags: u32,      // 1: add bias, 2: add res
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> w: array<u32>;
@group(0) @binding(2) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;
@group(0) @binding(5) var<storage, read> res: array<f32>;

const BM: u32 = 64u;
const BN: u32 = 64u;
const BK: u32 = 16u;

var<workgroup> xs: array<f32, 1024>; // [BK][BM]
var<workgroup> ws: array<f32, 1024>; // [BK][BN]

@compute @workgroup_size(16, 16)
fn main(
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
    @builtin(workgroup_id) wg: vec3<u32>,
) {
    let m0 = wg.y * BM;
    let n0 = wg.x * BN;
    // Staging assignment: invocation li loads row li / 4, values (li % 4) * 4 .. + 4.
    let lr = li / 4u;
    let lk = (li % 4u) * 4u;
    let k4 = p.k / 4u;

    var acc: array<vec4<f32>, 4>;
    for (var i = 0u; i < 4u; i++) {
        acc[i] = vec4<f32>(0.0);
    }

    for (var kt = 0u; kt < p.k; kt += BK) {
        let kk = kt + lk;
        var xv = vec4<f32>(0.0);
        if (m0 + lr < p.m && kk < p.k) {
            xv = x[(m0 + lr) * k4 + kk / 4u];
        }
        var wv = vec4<f32>(0.0);
        if (n0 + lr < p.n && kk < p.k) {
            let blk = kk / BLOCK_ELEMS;
            wv = w_load4((n0 + lr) * p.row_bytes + blk * BLOCK_BYTES, kk - blk * BLOCK_ELEMS);
        }
        for (var j = 0u; j < 4u; j++) {
            xs[(lk + j) * BM + lr] = xv[j];
            ws[(lk + j) * BN + lr] = wv[j];
        }
        workgroupBarrier();
        for (var k = 0u; k < BK; k++) {
            let xb = k * BM + lid.y * 4u;
            let wb = k * BN + lid.x * 4u;
            let b = vec4<f32>(ws[wb], ws[wb + 1u], ws[wb + 2u], ws[wb + 3u]);
            for (var i = 0u; i < 4u; i++) {
                acc[i] += xs[xb + i] * b;
            }
        }
        workgroupBarrier();
    }

    for (var i = 0u; i < 4u; i++) {
        let m = m0 + lid.y * 4u + i;
        if (m >= p.m) {
            break;
        }
        for (var j = 0u; j < 4u; j++) {
            let n = n0 + lid.x * 4u + j;
            if (n < p.n) {
                let o = m * p.ldy + p.n_offset + n;
                var v = acc[i][j];
                if ((p.flags & 1u) != 0u) {
                    v += bias[p.n_offset + n];
                }
                if ((p.flags & 2u) != 0u) {
                    v += res[o];
                }
                y[o] = v;
            }
        }
    }
}
