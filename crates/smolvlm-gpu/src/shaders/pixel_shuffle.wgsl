// Idefics3 / SmolVLM connector pixel shuffle (space-to-depth), for one image:
// x [side * side, e] -> y [(side / s)^2, e * s * s], following transformers'
// `Idefics3Connector.pixel_shuffle` view/permute chain, which works out to
//   y[h2 * (side / s) + w2, c] = x[(h2 * s + c / (e * s)) * side + w2 * s + (c % (e * s)) / e, c % e]

struct Params {
    total: u32,  // values in y
    side: u32,
    e: u32,
    s: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let idx = gid.y * nwg.x * 256u + gid.x;
    if (idx >= p.total) {
        return;
    }
    let out_w = p.e * p.s * p.s;
    let c = idx % out_w;
    let q = idx / out_w;
    let side_s = p.side / p.s;
    let h2 = q / side_s;
    let w2 = q % side_s;
    let es = p.e * p.s;
    let h = h2 * p.s + c / es;
    let w = w2 * p.s + (c % es) / p.e;
    y[idx] = x[(h * p.side + w) * p.e + c % p.e];
}
