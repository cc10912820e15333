import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Debian's OpenBLAS, opened at run time so kb can choose its kernels before the library
/// initialises: OpenBLAS 0.3.21 does not recognise AMD Zen 4 and falls back to AVX2 ("Haswell")
/// kernels. `KB_BLAS_CORE` decides:
/// - `auto` (default): the AVX-512 ("SkylakeX") kernels when the CPU has AVX-512 F, BW, DQ and VL
///   (1.5× faster here, README "Embedding speed"), otherwise OpenBLAS's own choice; this replaces an
///   inherited `OPENBLAS_CORETYPE` for kb's process only;
/// - `inherit`: leave `OPENBLAS_CORETYPE` and OpenBLAS's detection alone;
/// - any OpenBLAS core name (`Haswell`, `SkylakeX`, `Zen` …): use that.
enum BLAS {
    typealias SGEMM = @convention(c) (Int32, Int32, Int32, Int32, Int32, Int32, Float, UnsafePointer<Float>?, Int32,
                                      UnsafePointer<Float>?, Int32, Float, UnsafeMutablePointer<Float>?, Int32) -> Void
    typealias SetThreads = @convention(c) (Int32) -> Void

    struct Library: @unchecked Sendable {
        let sgemm: SGEMM
        let setThreads: SetThreads?
    }

    /// The loaded library, or why it could not be loaded.
    static let shared: Result<Library, KBError> = load()

    /// Throws when OpenBLAS is missing.
    static func require() throws(KBError) -> Library {
        switch shared {
        case .success(let library): return library
        case .failure(let error): throw error
        }
    }

    private static func load() -> Result<Library, KBError> {
        let choice = getenv("KB_BLAS_CORE").map { String(cString: $0) } ?? "auto"
        switch choice.lowercased() {
        case "auto", "":
            if cpuHasAVX512() { setenv("OPENBLAS_CORETYPE", "SkylakeX", 1) }
        case "inherit":
            break
        default:
            setenv("OPENBLAS_CORETYPE", choice, 1)
        }
        for name in ["libopenblas.so.0", "libopenblas.so", "libblas.so.3"] {
            guard let handle = dlopen(name, RTLD_NOW | RTLD_LOCAL), let symbol = dlsym(handle, "cblas_sgemm") else { continue }
            let threads = dlsym(handle, "openblas_set_num_threads").map { unsafeBitCast($0, to: SetThreads.self) }
            return .success(Library(sgemm: unsafeBitCast(symbol, to: SGEMM.self), setThreads: threads))
        }
        return .failure(KBError(.model, "OpenBLAS is not installed (libopenblas0 with cblas_sgemm); run scripts/setup.sh, or apt-get install libopenblas-dev."))
    }

    /// AVX-512 F, BW, DQ and VL, from /proc/cpuinfo.
    static func cpuHasAVX512() -> Bool {
        guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let flags = info.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return false }
        let set = Set(flags.split(separator: " ").map(String.init))
        return ["avx512f", "avx512bw", "avx512dq", "avx512vl"].allSatisfy(set.contains)
    }
}

/// Numeric kernels for the transformer encoder. Matrix products go through OpenBLAS; the
/// element-wise work is vectorised Swift (SIMD8) with polynomial exp and erf.
enum Kernels {
    private static let rowMajor: Int32 = 101, noTranspose: Int32 = 111, transpose: Int32 = 112

    /// C[m×n] = alpha · A[m×k] · op(B) + beta · C, all row-major. `transposeB` means B is stored [n×k].
    /// Callers make sure OpenBLAS loaded (``BLAS/require()``) before computing.
    @inline(__always)
    static func gemm(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                     c: UnsafeMutablePointer<Float>, ldc: Int, transposeB: Bool, alpha: Float = 1, beta: Float = 0) {
        guard case .success(let blas) = BLAS.shared else { preconditionFailure("OpenBLAS was not loaded") }
        blas.sgemm(rowMajor, noTranspose, transposeB ? transpose : noTranspose,
                   Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// Tells OpenBLAS how many threads to use per call (kb parallelises over batches instead).
    static func setBLASThreads(_ count: Int) {
        if case .success(let blas) = BLAS.shared { blas.setThreads?(Int32(count)) }
    }

    /// Copies `bias` into each of `rows` rows of width `width` (before a gemm with beta = 1).
    static func broadcastRows(_ bias: UnsafePointer<Float>, rows: Int, width: Int, into out: UnsafeMutablePointer<Float>) {
        for row in 0..<rows { (out + row * width).update(from: bias, count: width) }
    }

    /// In-place LayerNorm of each row: (x − mean) / sqrt(var + eps) · gamma + beta.
    static func layerNorm(_ x: UnsafeMutablePointer<Float>, rows: Int, width: Int, gamma: UnsafePointer<Float>,
                          beta: UnsafePointer<Float>, eps: Float) {
        let vectorEnd = width & ~7
        for row in 0..<rows {
            let p = x + row * width
            var sum8 = SIMD8<Float>(repeating: 0)
            var i = 0
            while i < vectorEnd { sum8 += load8(p + i); i += 8 }
            var sum = sum8.sum()
            while i < width { sum += p[i]; i += 1 }
            let mean = sum / Float(width)
            let mean8 = SIMD8<Float>(repeating: mean)
            var variance8 = SIMD8<Float>(repeating: 0)
            i = 0
            while i < vectorEnd { let d = load8(p + i) - mean8; variance8 += d * d; i += 8 }
            var variance = variance8.sum()
            while i < width { let d = p[i] - mean; variance += d * d; i += 1 }
            let inv = 1 / (variance / Float(width) + eps).squareRoot()
            let inv8 = SIMD8<Float>(repeating: inv)
            i = 0
            while i < vectorEnd {
                store8((load8(p + i) - mean8) * inv8 * load8(gamma + i) + load8(beta + i), p + i)
                i += 8
            }
            while i < width { p[i] = (p[i] - mean) * inv * gamma[i] + beta[i]; i += 1 }
        }
    }

    /// x += y, element-wise.
    static func add(_ x: UnsafeMutablePointer<Float>, _ y: UnsafePointer<Float>, count: Int) {
        var i = 0
        while i + 8 <= count { store8(load8(x + i) + load8(y + i), x + i); i += 8 }
        while i < count { x[i] += y[i]; i += 1 }
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
        let vectorEnd = width & ~7
        for row in 0..<rows {
            let p = x + row * width
            var max8 = SIMD8<Float>(repeating: -.infinity)
            var i = 0
            while i < vectorEnd { max8 = pointwiseMax(max8, load8(p + i)); i += 8 }
            var maximum = max8.max()
            while i < width { maximum = max(maximum, p[i]); i += 1 }
            let m = SIMD8<Float>(repeating: maximum)
            var sum8 = SIMD8<Float>(repeating: 0)
            i = 0
            while i < vectorEnd {
                let e = exp8(load8(p + i) - m)
                store8(e, p + i)
                sum8 += e
                i += 8
            }
            var sum = sum8.sum()
            while i < width { p[i] = expf(p[i] - maximum); sum += p[i]; i += 1 }
            let inv = 1 / sum
            let inv8 = SIMD8<Float>(repeating: inv)
            i = 0
            while i < vectorEnd { store8(load8(p + i) * inv8, p + i); i += 8 }
            while i < width { p[i] *= inv; i += 1 }
        }
    }

    @inline(__always) static func load8(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
    }

    @inline(__always) static func load8(_ p: UnsafeMutablePointer<Float>) -> SIMD8<Float> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
    }

    @inline(__always) static func store8(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
    }

    /// exp for 8 lanes: 2^k · e^r with |r| ≤ ln2/2 and a degree-6 polynomial; relative error ≈ 1e-7.
    /// Rounding and 2^k use the float-magic-number trick: generic SIMD float↔int conversions are
    /// element-by-element in Swift and would dominate the cost.
    @inline(__always)
    static func exp8(_ x: SIMD8<Float>) -> SIMD8<Float> {
        let magic = SIMD8<Float>(repeating: 12582912)   // 1.5 · 2^23: adding it rounds to an integer
        let clamped = x.clamped(lowerBound: SIMD8(repeating: -87.3), upperBound: SIMD8(repeating: 88.3))
        let t = clamped * 1.44269504088896341 + magic
        let k = t - magic
        let r = clamped - k * 0.693359375 + k * 2.12194440e-4
        var p = SIMD8<Float>(repeating: 1.0 / 720)
        p = p * r + 1.0 / 120
        p = p * r + 1.0 / 24
        p = p * r + 1.0 / 6
        p = p * r + 0.5
        p = p * r + 1
        p = p * r + 1
        let integer = unsafeBitCast(t, to: SIMD8<Int32>.self) &- 0x4B40_0000
        return p * unsafeBitCast((integer &+ 127) &<< 23, to: SIMD8<Float>.self)
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
