// Strided batched matmul for attention, all f32:
//   C[b, m, n] = alpha * sum_k A[b, m, k] * B[b / b_div, n, k]
// with every operand addressed through its own strides, so the same kernel computes the
// scores Q K^T straight out of the [tokens, heads, head_dim] activations and the
// [positions, kv_heads, head_dim] cache (b_div = heads per kv head: GQA), and P V with V
// read "transposed" through its strides. Tiled like matmul.wgsl (64x64 tile, 16-deep K
// steps, workgroup memory staging, f32 accumulation); batch is the z dispatch dimension.

struct Params {
    m: u32,
    n: u32,
    k: u32,
    b_div: u32,
    a_off: u32, a_sb: u32, a_sm: u32, a_sk: u32,
    b_off: u32, b_sb: u32, b_sn: u32, b_sk: u32,
    c_off: u32, c_sb: u32, c_sm: u32, c_sn: u32,
    alpha: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> bm: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;

const BM: u32 = 64u;
const BN: u32 = 64u;
const BK: u32 = 16u;

var<workgroup> as_: array<f32, 1024>; // [BK][BM]
var<workgroup> bs: array<f32, 1024>;  // [BK][BN]

@compute @workgroup_size(16, 16)
fn main(
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
    @builtin(workgroup_id) wg: vec3<u32>,
) {
    let batch = wg.z;
    let m0 = wg.y * BM;
    let n0 = wg.x * BN;
    let a_base = p.a_off + batch * p.a_sb;
    let b_base = p.b_off + (batch / p.b_div) * p.b_sb;

    var acc: array<vec4<f32>, 4>;
    for (var i = 0u; i < 4u; i++) {
        acc[i] = vec4<f32>(0.0);
    }

    for (var kt = 0u; kt < p.k; kt += BK) {
        // 1024 values per operand tile, 4 per invocation. Consecutive invocations take
        // consecutive k where the k stride is 1 (Q, K, P), else consecutive rows (V), so
        // that neighbours read neighbouring addresses.
        for (var r = 0u; r < 4u; r++) {
            let t = r * 256u + li;
            var kk = t / BM;
            var row = t % BM;
            if (p.a_sk == 1u) {
                kk = t % BK;
                row = t / BK;
            }
            var av = 0.0;
            if (m0 + row < p.m && kt + kk < p.k) {
                av = a[a_base + (m0 + row) * p.a_sm + (kt + kk) * p.a_sk];
            }
            as_[kk * BM + row] = av;
            kk = t / BN;
            row = t % BN;
            if (p.b_sk == 1u) {
                kk = t % BK;
                row = t / BK;
            }
            var bv = 0.0;
            if (n0 + row < p.n && kt + kk < p.k) {
                bv = bm[b_base + (n0 + row) * p.b_sn + (kt + kk) * p.b_sk];
            }
            bs[kk * BN + row] = bv;
        }
        workgroupBarrier();
        for (var k = 0u; k < BK; k++) {
            let ab = k * BM + lid.y * 4u;
            let bb = k * BN + lid.x * 4u;
            let bvec = vec4<f32>(bs[bb], bs[bb + 1u], bs[bb + 2u], bs[bb + 3u]);
            for (var i = 0u; i < 4u; i++) {
                acc[i] += as_[ab + i] * bvec;
            }
        }
        workgroupBarrier();
    }

    let c_base = p.c_off + batch * p.c_sb;
    for (var i = 0u; i < 4u; i++) {
        let m = m0 + lid.y * 4u + i;
        if (m >= p.m) {
            break;
        }
        for (var j = 0u; j < 4u; j++) {
            let n = n0 + lid.x * 4u + j;
            if (n < p.n) {
                c[c_base + m * p.c_sm + n * p.c_sn] = p.alpha * acc[i][j];
            }
        }
    }
}
