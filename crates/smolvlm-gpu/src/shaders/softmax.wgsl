// Row-wise softmax, in place, with the masks attention needs:
//   row r = (batch, query m), with m = r % q_len; key j of the row is kept when
//   j < len, (causal == 0 or j <= q_pos0 + m), and (has_mask == 0 or mask[j] != 0).
// Masked keys get probability 0. A row with no key kept becomes all zeros (instead of the
// NaNs that -inf - -inf would give). One workgroup per row; f32 throughout.

struct Params {
    rows: u32,
    len: u32,      // keys per row
    stride: u32,   // distance between rows
    q_len: u32,    // queries per batch (for the causal mask)
    q_pos0: u32,   // absolute position of query 0
    causal: u32,
    has_mask: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> s: array<f32>;
@group(0) @binding(2) var<storage, read> mask: array<u32>;

const WG: u32 = 256u;
var<workgroup> red: array<f32, WG>;

fn kept(j: u32, m: u32) -> bool {
    if (p.causal != 0u && j > p.q_pos0 + m) {
        return false;
    }
    if (p.has_mask != 0u && mask[j] == 0u) {
        return false;
    }
    return true;
}

@compute @workgroup_size(256)
fn main(
    @builtin(local_invocation_index) li: u32,
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let r = wg.y * nwg.x + wg.x;
    if (r >= p.rows) {
        return;
    }
    let base = r * p.stride;
    let m = r % p.q_len;

    var mx = -3.402823e38;
    for (var j = li; j < p.len; j += WG) {
        if (kept(j, m)) {
            mx = max(mx, s[base + j]);
        }
    }
    red[li] = mx;
    workgroupBarrier();
    for (var h = WG / 2u; h > 0u; h >>= 1u) {
        if (li < h) {
            red[li] = max(red[li], red[li + h]);
        }
        workgroupBarrier();
    }
    mx = red[0];
    workgroupBarrier();

    var sum = 0.0;
    for (var j = li; j < p.len; j += WG) {
        var e = 0.0;
        if (kept(j, m)) {
            e = exp(s[base + j] - mx);
        }
        s[base + j] = e;
        sum += e;
    }
    red[li] = sum;
    workgroupBarrier();
    for (var h = WG / 2u; h > 0u; h >>= 1u) {
        if (li < h) {
            red[li] += red[li + h];
        }
        workgroupBarrier();
    }
    let total = red[0];
    var inv = 0.0;
    if (total > 0.0) {
        inv = 1.0 / total;
    }
    for (var j = li; j < p.len; j += WG) {
        s[base + j] *= inv;
    }
}
