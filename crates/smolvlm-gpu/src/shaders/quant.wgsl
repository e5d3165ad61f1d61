// Reading GGUF weight blocks straight from a `array<u32>` binding named `w`.
//
// Blocks are not 4-byte aligned (Q8_0 is 34 bytes, Q4_0 18, Q5_0 22, Q6_K 210), so every
// field is addressed by its byte offset and pulled out of the u32 words that hold it.
// All f16 fields sit at even offsets (every block size is even), so an f16 never straddles
// two words. Layouts follow ggml-common.h (the structs candle's k_quants.rs mirrors):
//   Q8_0 { d: f16, qs: [i8; 32] }                          34 bytes / 32 values
//   Q4_0 { d: f16, qs: [u8; 16] }                          18 bytes / 32 values
//   Q5_0 { d: f16, qh: [u8; 4], qs: [u8; 16] }             22 bytes / 32 values
//   Q4_K { d: f16, dmin: f16, scales: [u8; 12], qs: [u8; 128] }          144 bytes / 256
//   Q6_K { ql: [u8; 128], qh: [u8; 64], scales: [i8; 16], d: f16 }       210 bytes / 256
// F32 and F16 rows are treated as "blocks" of 4 values (16 and 8 bytes).
// Field offsets are constants the prelude defines from smolvlm's table (weight_type::blocks):
// Q8_0_QS, Q4_0_QS, Q5_0_QH, Q5_0_QS, Q4K_DMIN, Q4K_SCALES, Q4K_QS, Q6K_QH, Q6K_SCALES,
// Q6K_D; the scale d leads every block but Q6_K's.
//
// Each type provides `load4_<type>(block_byte, i) -> vec4<f32>`: the 4 dequantized values
// i..i+4 of the block starting at byte `block_byte` (i a multiple of 4). Four consecutive
// values always share one scale in every type (sub-blocks are 16 or 32 wide), which is what
// makes a 4-wide load the common unit of the matvec, matmul and embedding kernels. The
// arithmetic order matches ggml's dequantize_row_* so results agree to the last bit where
// the compiler does not contract into an FMA.

fn rd_u8(b: u32) -> u32 {
    return (w[b >> 2u] >> ((b & 3u) * 8u)) & 0xffu;
}

// 4 bytes starting at any byte offset, little-endian.
fn rd_u32(b: u32) -> u32 {
    let s = (b & 3u) * 8u;
    let lo = w[b >> 2u];
    if (s == 0u) {
        return lo;
    }
    return (lo >> s) | (w[(b >> 2u) + 1u] << (32u - s));
}

// An f16 at an even byte offset, widened to f32 (exact).
fn rd_f16(b: u32) -> f32 {
    let word = w[b >> 2u];
    return unpack2x16float(word >> ((b & 2u) * 8u)).x;
}

// The 4 signed bytes of a word, sign-extended.
fn i8x4(v: u32) -> vec4<f32> {
    let s = bitcast<i32>(v);
    return vec4<f32>(
        f32(extractBits(s, 0u, 8u)),
        f32(extractBits(s, 8u, 8u)),
        f32(extractBits(s, 16u, 8u)),
        f32(extractBits(s, 24u, 8u)),
    );
}

// The 4 bytes of a word as unsigned values.
fn u8x4(v: u32) -> vec4<u32> {
    return vec4<u32>(v & 0xffu, (v >> 8u) & 0xffu, (v >> 16u) & 0xffu, v >> 24u);
}

fn load4_f32(b: u32, i: u32) -> vec4<f32> {
    let o = (b >> 2u) + i;
    return vec4<f32>(bitcast<f32>(w[o]), bitcast<f32>(w[o + 1u]), bitcast<f32>(w[o + 2u]), bitcast<f32>(w[o + 3u]));
}

fn load4_f16(b: u32, i: u32) -> vec4<f32> {
    // Rows of F16 start at multiples of 8 bytes (cols % 4 == 0), so both words are aligned.
    let o = (b + i * 2u) >> 2u;
    return vec4<f32>(unpack2x16float(w[o]), unpack2x16float(w[o + 1u]));
}

fn load4_q8_0(b: u32, i: u32) -> vec4<f32> {
    let d = rd_f16(b);
    return i8x4(rd_u32(b + Q8_0_QS + i)) * d;
}

fn load4_q4_0(b: u32, i: u32) -> vec4<f32> {
    let d = rd_f16(b);
    let j = i & 15u;
    let q = (rd_u32(b + Q4_0_QS + j) >> ((i >> 4u) * 4u)) & 0x0f0f0f0fu;
    return (vec4<f32>(u8x4(q)) - 8.0) * d;
}

fn load4_q5_0(b: u32, i: u32) -> vec4<f32> {
    let d = rd_f16(b);
    let qh = rd_u32(b + Q5_0_QH);
    let j = i & 15u;
    let lo = u8x4((rd_u32(b + Q5_0_QS + j) >> ((i >> 4u) * 4u)) & 0x0f0f0f0fu);
    // Bit e of qh is the fifth bit of value e (ggml: xh_0 = qh >> j, xh_1 = qh >> (j + 12)).
    let hi = vec4<u32>((qh >> i) & 1u, (qh >> (i + 1u)) & 1u, (qh >> (i + 2u)) & 1u, (qh >> (i + 3u)) & 1u);
    return (vec4<f32>(lo | (hi << vec4<u32>(4u))) - 16.0) * d;
}

fn load4_q4_k(b: u32, i: u32) -> vec4<f32> {
    let d = rd_f16(b);
    let dmin = rd_f16(b + Q4K_DMIN);
    let s = i >> 5u; // sub-block of 32, 0..8
    // get_scale_min_k4(s, scales)
    var sc: u32;
    var m: u32;
    let sb = b + Q4K_SCALES;
    if (s < 4u) {
        sc = rd_u8(sb + s) & 63u;
        m = rd_u8(sb + 4u + s) & 63u;
    } else {
        sc = (rd_u8(sb + 4u + s) & 0xfu) | ((rd_u8(sb + s - 4u) >> 6u) << 4u);
        m = (rd_u8(sb + 4u + s) >> 4u) | ((rd_u8(sb + s) >> 6u) << 4u);
    }
    let d1 = d * f32(sc);
    let m1 = dmin * f32(m);
    let q = u8x4((rd_u32(b + Q4K_QS + (s >> 1u) * 32u + (i & 31u)) >> ((s & 1u) * 4u)) & 0x0f0f0f0fu);
    return d1 * vec4<f32>(q) - m1;
}

fn load4_q6_k(b: u32, i: u32) -> vec4<f32> {
    let d = rd_f16(b + Q6K_D);
    let h = i >> 7u;         // half of the super-block, 0..2
    let t = (i >> 5u) & 3u;  // quarter inside the half: which of q1..q4
    let l = i & 31u;
    let ql = u8x4((rd_u32(b + h * 64u + l + (t & 1u) * 32u) >> ((t >> 1u) * 4u)) & 0x0f0f0f0fu);
    let qh = u8x4((rd_u32(b + Q6K_QH + h * 32u + l) >> (t * 2u)) & 0x03030303u);
    let sc = f32(extractBits(bitcast<i32>(rd_u8(b + Q6K_SCALES + h * 8u + (l >> 4u) + 2u * t)), 0u, 8u));
    let q = vec4<f32>(vec4<i32>(ql | (qh << vec4<u32>(4u))) - 32);
    return (d * sc) * q;
}
