// Elementwise kernels, one invocation per value, f32:
//   add:      y = a + b[i % b_len]   (b_len = n for a plain sum; the row length for a bias)
//   mul:      y = a * b[i % b_len]
//   silu_mul: y = silu(a) * b        (SwiGLU: a = gate, b = up)
//   gelu_tanh: y = 0.5 a (1 + tanh(sqrt(2/pi) (a + 0.044715 a^3)))  (gelu_pytorch_tanh)

struct Params {
    n: u32,
    b_len: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

fn index(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return gid.y * nwg.x * 256u + gid.x;
}

@compute @workgroup_size(256)
fn add(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = index(gid, nwg);
    if (i < p.n) {
        y[i] = a[i] + b[i % p.b_len];
    }
}

@compute @workgroup_size(256)
fn mul(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = index(gid, nwg);
    if (i < p.n) {
        y[i] = a[i] * b[i % p.b_len];
    }
}

@compute @workgroup_size(256)
fn silu_mul(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = index(gid, nwg);
    if (i < p.n) {
        let g = a[i];
        y[i] = g / (1.0 + exp(-g)) * b[i];
    }
}

@compute @workgroup_size(256)
fn gelu_tanh(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = index(gid, nwg);
    if (i < p.n) {
        let v = a[i];
        // tanh is evaluated as a ratio of exponentials by some drivers, which gives NaN
        // once exp overflows; tanh(±10) is ±1 to f32 precision, so clamp first.
        let u = clamp(0.7978845608028654 * (v + 0.044715 * v * v * v), -10.0, 10.0);
        y[i] = 0.5 * v * (1.0 + tanh(u));
    }
}
