// Attention of one query per head over a KV cache (decode), split over the keys
// ("flash decoding") so that a long cache keeps many workgroups busy:
//   partial: workgroup (chunk c, head h) scores the CHUNK keys of chunk c, and writes the
//            chunk's max m_c, sum l_c = sum exp(s - m_c) and o_c = sum exp(s - m_c) v;
//   combine: workgroup h merges the chunks: M = max m_c,
//            out = sum o_c exp(m_c - M) / sum l_c exp(m_c - M).
// Keys past kv_len, after q_pos (causal) or masked out get no weight; a head whose keys are
// all excluded gets zeros (as softmax.wgsl). K and V rows are [kv_heads, d] per position;
// head h reads kv head h / group. f32 throughout.

struct Params {
    heads: u32,
    d: u32,
    kv_len: u32,
    kv_row: u32,     // kv_heads * d: values per cache position
    group: u32,      // heads per kv head
    causal: u32,
    q_pos: u32,
    has_mask: u32,
    chunks: u32,
    scale: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> kc: array<f32>;
@group(0) @binding(3) var<storage, read> vc: array<f32>;
@group(0) @binding(4) var<storage, read> mask: array<u32>;
@group(0) @binding(5) var<storage, read_write> part: array<f32>; // [heads][chunks][d + 2]
@group(0) @binding(6) var<storage, read_write> out: array<f32>;  // [heads][d]

const CHUNK: u32 = 256u;
const NEG: f32 = -3.402823e38;

var<workgroup> qs: array<f32, 256>;   // the query (d <= 256)
var<workgroup> ps: array<f32, 256>;   // the chunk's weights exp(s - m_c)
var<workgroup> red: array<f32, 256>;

fn reduce_max(v: f32, li: u32) -> f32 {
    red[li] = v;
    workgroupBarrier();
    for (var h = 128u; h > 0u; h >>= 1u) {
        if (li < h) {
            red[li] = max(red[li], red[li + h]);
        }
        workgroupBarrier();
    }
    let r = red[0];
    workgroupBarrier();
    return r;
}

fn reduce_sum(v: f32, li: u32) -> f32 {
    red[li] = v;
    workgroupBarrier();
    for (var h = 128u; h > 0u; h >>= 1u) {
        if (li < h) {
            red[li] += red[li + h];
        }
        workgroupBarrier();
    }
    let r = red[0];
    workgroupBarrier();
    return r;
}

@compute @workgroup_size(256)
fn partial(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wg: vec3<u32>) {
    let c = wg.x;
    let h = wg.y;
    let kvh = h / p.group;
    if (li < p.d) {
        qs[li] = q[h * p.d + li];
    }
    workgroupBarrier();

    // One key per invocation.
    let j = c * CHUNK + li;
    var keep = j < p.kv_len;
    if (p.causal != 0u && j > p.q_pos) {
        keep = false;
    }
    if (keep && p.has_mask != 0u && mask[j] == 0u) {
        keep = false;
    }
    var s = NEG;
    if (keep) {
        let base = j * p.kv_row + kvh * p.d;
        var acc = 0.0;
        for (var i = 0u; i < p.d; i++) {
            acc += qs[i] * kc[base + i];
        }
        s = acc * p.scale;
    }
    let m = reduce_max(s, li);
    var e = 0.0;
    if (keep) {
        e = exp(s - m);
    }
    ps[li] = e;
    let l = reduce_sum(e, li);

    // o_c[dd] = sum_j ps[j] v[j, dd]: G = 256 / d groups of d invocations, group g taking
    // keys g, g + G, ...; then the G partial sums are added up.
    let groups = 256u / p.d;
    let dd = li % p.d;
    let g = li / p.d;
    var o = 0.0;
    if (g < groups) {
        for (var k = g; k < CHUNK; k += groups) {
            let jj = c * CHUNK + k;
            if (jj < p.kv_len && ps[k] != 0.0) {
                o += ps[k] * vc[jj * p.kv_row + kvh * p.d + dd];
            }
        }
    }
    red[li] = o;
    workgroupBarrier();
    let base = (h * p.chunks + c) * (p.d + 2u);
    if (li < p.d) {
        var t = 0.0;
        for (var k = 0u; k < groups; k++) {
            t += red[k * p.d + li];
        }
        part[base + 2u + li] = t;
    }
    if (li == 0u) {
        part[base] = m;
        part[base + 1u] = l;
    }
}

@compute @workgroup_size(256)
fn combine(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wg: vec3<u32>) {
    let h = wg.x;
    let stride = p.d + 2u;
    let first = h * p.chunks * stride;
    var mx = NEG;
    for (var c = 0u; c < p.chunks; c++) {
        if (part[first + c * stride + 1u] > 0.0) {
            mx = max(mx, part[first + c * stride]);
        }
    }
    var l = 0.0;
    for (var c = 0u; c < p.chunks; c++) {
        let lc = part[first + c * stride + 1u];
        if (lc > 0.0) {
            l += lc * exp(part[first + c * stride] - mx);
        }
    }
    var inv = 0.0;
    if (l > 0.0) {
        inv = 1.0 / l;
    }
    for (var dd = li; dd < p.d; dd += 256u) {
        var o = 0.0;
        for (var c = 0u; c < p.chunks; c++) {
            let lc = part[first + c * stride + 1u];
            if (lc > 0.0) {
                o += part[first + c * stride + 2u + dd] * exp(part[first + c * stride] - mx);
            }
        }
        out[h * p.d + dd] = o * inv;
    }
}
