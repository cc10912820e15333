import Foundation
import Testing
@testable import KBCore

enum Models {
    /// The models folder scripts/setup.sh fills (KB_MODELS overrides).
    static var folder: String {
        ProcessInfo.processInfo.environment["KB_MODELS"]
            ?? URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent("models").path
    }
    static func has(_ name: String) -> Bool { FileManager.default.fileExists(atPath: folder + "/" + name + "/.complete") }
    static func golden(_ file: String) -> [String: Any]? {
        guard let shared = Fixtures.shared, let data = FileManager.default.contents(atPath: shared + "/models/golden/" + file) else { return nil }
        return try? JSONSerialization.jsonObject(with: data) as? [String: Any]
    }
}

func cosine(_ a: [Float], _ b: [Double]) -> Double {
    var dot = 0.0, na = 0.0, nb = 0.0
    for i in 0..<min(a.count, b.count) { dot += Double(a[i]) * b[i]; na += Double(a[i]) * Double(a[i]); nb += b[i] * b[i] }
    return dot / (na.squareRoot() * nb.squareRoot())
}

@Suite struct KernelTests {
    @Test func polynomialExpAndErfMatchTheMathLibrary() {
        var worstExp: Float = 0, worstErf: Float = 0
        var x: Float = -30
        while x <= 10 {
            let e = Kernels.exp8(SIMD8(repeating: x))[0]
            worstExp = max(worstExp, abs(e - expf(x)) / expf(x))
            x += 0.01
        }
        x = -6
        while x <= 6 {
            worstErf = max(worstErf, abs(Kernels.erf8(SIMD8(repeating: x))[0] - erff(x)))
            x += 0.001
        }
        #expect(worstExp < 1e-6)
        #expect(worstErf < 1e-6)
    }

    @Test func softmaxRowsSumToOne() {
        var values: [Float] = (0..<30).map { Float($0) * 0.37 - 4 }
        values.withUnsafeMutableBufferPointer { Kernels.softmaxRows($0.baseAddress!, rows: 3, width: 10) }
        for row in 0..<3 { #expect(abs(values[(row * 10)..<(row * 10 + 10)].reduce(0, +) - 1) < 1e-5) }
    }
}

@Suite struct MiniLMTests {
    @Test(.enabled(if: Models.has("all-minilm-l6-v2") && Models.golden("golden_all-MiniLM-L6-v2.json") != nil,
                   "needs models/all-minilm-l6-v2 (scripts/setup.sh) and ../shared/models/golden"))
    func matchesGoldenTokensAndVectors() throws {
        let golden = Models.golden("golden_all-MiniLM-L6-v2.json")!
        let embedder = try EmbedderCatalog(modelsFolder: Models.folder).embedder(named: "all-minilm-l6-v2") as! LocalEmbedder
        let sentences = golden["sentences"] as! [[String: Any]]
        let tokenization = golden["tokenization"] as! [[String: Any]]
        let texts = sentences.map { $0["text"] as! String }
        let vectors = try embedder.embed(texts, kind: .passage).vectors
        for (i, sentence) in sentences.enumerated() {
            #expect(embedder.tokenIDs(texts[i], kind: .passage).map(Int.init) == tokenization[i]["ids"] as! [Int], "tokens of \(texts[i])")
            let similarity = cosine(vectors[i], (sentence["embedding"] as! [NSNumber]).map(\.doubleValue))
            #expect(similarity >= 0.9999, "cosine \(similarity) for \(texts[i])")
        }
    }
}
