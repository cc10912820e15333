import COpenBLAS
import Foundation

/// Numeric kernels for the transformer encoder. Matrix products go through OpenBLAS; the
/// element-wise work is vectorised Swift (SIMD8) with polynomial exp and erf.
enum Kernels {
    /// C[m×n] = alpha · A[m×k] · op(B) + beta · C, all row-major. `transposeB` means B is stored [n×k].
    @inline(__always)
    static func gemm(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                     c: UnsafeMutablePointer<Float>, ldc: Int, transposeB: Bool, alpha: Float = 1, beta: Float = 0) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// Tells OpenBLAS how many threads to use per call (kb parallelises over batches instead).
    static func setBLASThreads(_ count: Int) { openblas_set_num_threads(Int32(count)) }

    /// Copies `bias` into each of `rows` rows of width `width` (before a gemm with beta = 1).
    static func broadcastRows(_ bias: UnsafePointer<Float>, rows: Int, width: Int, into out: UnsafeMutablePointer<Float>) {
        for row in 0..<rows { (out + row * width).update(from: bias, count: width) }
    }

    /// In-place LayerNorm of each row: (x − mean) / sqrt(var + eps) · gamma + beta.
    static func layerNorm(_ x: UnsafeMutablePointer<Float>, rows: Int, width: Int, gamma: UnsafePointer<Float>,
                          beta: UnsafePointer<Float>, eps: Float) {
        for row in 0..<rows {
            let p = x + row * width
            var sum: Float = 0
            for i in 0..<width { sum += p[i] }
            let mean = sum / Float(width)
            var variance: Float = 0
            for i in 0..<width { let d = p[i] - mean; variance += d * d }
            let inv = 1 / (variance / Float(width) + eps).squareRoot()
            for i in 0..<width { p[i] = (p[i] - mean) * inv * gamma[i] + beta[i] }
        }
    }

    /// x += y, element-wise.
    static func add(_ x: UnsafeMutablePointer<Float>, _ y: UnsafePointer<Float>, count: Int) {
        for i in 0..<count { x[i] += y[i] }
    }

    /// Exact GELU, x · Φ(x) = 0.5 · x · (1 + erf(x / √2)), in place.
    static func gelu(_ x: UnsafeMutablePointer<Float>, count: Int) {
        let half = SIMD8<Float>(repeating: 0.5), one = SIMD8<Float>(repeating: 1)
        let invSqrt2 = SIMD8<Float>(repeating: 0.70710678118654752)
        var i = 0
        while i + 8 <= count {
            let v = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
            let r = half * v * (one + erf8(v * invSqrt2))
            UnsafeMutableRawPointer(x + i).storeBytes(of: r, as: SIMD8<Float>.self)
            i += 8
        }
        while i < count { x[i] = 0.5 * x[i] * (1 + erff(x[i] * 0.70710678118654752)); i += 1 }
    }

    /// Softmax of each row in place.
    static func softmaxRows(_ x: UnsafeMutablePointer<Float>, rows: Int, width: Int) {
        for row in 0..<rows {
            let p = x + row * width
            var maximum = -Float.infinity
            for i in 0..<width where p[i] > maximum { maximum = p[i] }
            let m = SIMD8<Float>(repeating: maximum)
            var sum8 = SIMD8<Float>(repeating: 0)
            var i = 0
            while i + 8 <= width {
                let e = exp8(UnsafeRawPointer(p + i).loadUnaligned(as: SIMD8<Float>.self) - m)
                UnsafeMutableRawPointer(p + i).storeBytes(of: e, as: SIMD8<Float>.self)
                sum8 += e
                i += 8
            }
            var sum = sum8.sum()
            while i < width { p[i] = expf(p[i] - maximum); sum += p[i]; i += 1 }
            let inv = 1 / sum
            for j in 0..<width { p[j] *= inv }
        }
    }

    /// exp for 8 lanes: 2^k · e^r with |r| ≤ ln2/2 and a degree-6 polynomial; relative error ≈ 1e-7.
    @inline(__always)
    static func exp8(_ x: SIMD8<Float>) -> SIMD8<Float> {
        let clamped = x.clamped(lowerBound: SIMD8(repeating: -87.3), upperBound: SIMD8(repeating: 88.3))
        let k = (clamped * 1.44269504088896341).rounded(.toNearestOrEven)
        let r = clamped - k * 0.693359375 + k * 2.12194440e-4
        var p = SIMD8<Float>(repeating: 1.0 / 720)
        p = p * r + 1.0 / 120
        p = p * r + 1.0 / 24
        p = p * r + 1.0 / 6
        p = p * r + 0.5
        p = p * r + 1
        p = p * r + 1
        let bits = (SIMD8<Int32>(k) &+ 127) &<< 23
        return p * unsafeBitCast(bits, to: SIMD8<Float>.self)
    }

    /// erf for 8 lanes: a rational approximation on [−4, 4] (erf is ±1 in float beyond); error ≈ 1e-7.
    @inline(__always)
    static func erf8(_ x: SIMD8<Float>) -> SIMD8<Float> {
        let v = x.clamped(lowerBound: SIMD8(repeating: -4), upperBound: SIMD8(repeating: 4))
        let x2 = v * v
        var p = SIMD8<Float>(repeating: -2.72614225801306e-10)
        p = p * x2 + 2.77068142495902e-08
        p = p * x2 - 2.10102402082508e-06
        p = p * x2 - 5.69250639462346e-05
        p = p * x2 - 7.34990630326855e-04
        p = p * x2 - 2.95459980854025e-03
        p = p * x2 - 1.60960333262415e-02
        p = p * v
        var q = SIMD8<Float>(repeating: -1.45660718464996e-05)
        q = q * x2 - 2.13374055278905e-04
        q = q * x2 - 1.68282697438203e-03
        q = q * x2 - 7.37332916720468e-03
        q = q * x2 - 1.42647390514189e-02
        return p / q
    }

    /// Scales a vector to unit length (left as is when zero).
    static func l2Normalize(_ v: inout [Float]) {
        var sum: Float = 0
        for x in v { sum += x * x }
        guard sum > 0 else { return }
        let inv = 1 / sum.squareRoot()
        for i in v.indices { v[i] *= inv }
    }
}
