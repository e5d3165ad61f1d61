// Row normalisations, one workgroup per row, f32 throughout.
//   rms_norm:   y = x / sqrt(mean(x^2) + eps) * w            (LlamaRMSNorm)
//   layer_norm: y = (x - mean) / sqrt(var + eps) * w + b     (nn.LayerNorm, biased var)
// layer_norm takes the variance of (x - mean) in a second pass rather than
// E[x^2] - E[x]^2, which loses digits when the mean is large against the spread.

struct Params {
    rows: u32,
    dim: u32,
    eps: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> wt: array<f32>;
@group(0) @binding(3) var<storage, read> bs: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

const WG: u32 = 256u;
var<workgroup> red: array<f32, WG>;

fn row_sum(v: f32, li: u32) -> f32 {
    red[li] = v;
    workgroupBarrier();
    for (var h = WG / 2u; h > 0u; h >>= 1u) {
        if (li < h) {
            red[li] += red[li + h];
        }
        workgroupBarrier();
    }
    let total = red[0];
    workgroupBarrier();
    return total;
}

@compute @workgroup_size(256)
fn rms_norm(
    @builtin(local_invocation_index) li: u32,
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let r = wg.y * nwg.x + wg.x;
    if (r >= p.rows) {
        return;
    }
    let base = r * p.dim;
    var ss = 0.0;
    for (var j = li; j < p.dim; j += WG) {
        let v = x[base + j];
        ss += v * v;
    }
    let inv = inverseSqrt(row_sum(ss, li) / f32(p.dim) + p.eps);
    for (var j = li; j < p.dim; j += WG) {
        y[base + j] = wt[j] * (x[base + j] * inv);
    }
}

@compute @workgroup_size(256)
fn layer_norm(
    @builtin(local_invocation_index) li: u32,
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let r = wg.y * nwg.x + wg.x;
    if (r >= p.rows) {
        return;
    }
    let base = r * p.dim;
    var s = 0.0;
    for (var j = li; j < p.dim; j += WG) {
        s += x[base + j];
    }
    let mean = row_sum(s, li) / f32(p.dim);
    var sq = 0.0;
    for (var j = li; j < p.dim; j += WG) {
        let d = x[base + j] - mean;
        sq += d * d;
    }
    let inv = inverseSqrt(row_sum(sq, li) / f32(p.dim) + p.eps);
    for (var j = li; j < p.dim; j += WG) {
        y[base + j] = (x[base + j] - mean) * inv * wt[j] + bs[j];
    }
}
