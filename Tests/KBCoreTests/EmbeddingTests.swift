import Foundation
import Testing
@testable import KBCore
import KBTestSupport

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
    @Test func polynomialExpAndErfMatchTheMathLibrary() async throws {
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

    @Test func softmaxRowsSumToOne() async throws {
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
        // MiniLM is blind to most Chinese: hybrid search notices.
        #expect(embedder.unknownTokenShare("猫坐在垫子上。") > 0.5)
        #expect(embedder.unknownTokenShare("The cat sits on the mat.") == 0)
    }
}

@Suite struct E5Tests {
    @Test(.enabled(if: Models.has("multilingual-e5-small") && Models.golden("golden_multilingual-e5-small-q4.json") != nil,
                   "needs models/multilingual-e5-small (scripts/setup.sh) and ../shared/models/golden"))
    func matchesGoldenTokensAndVectorsForBothPrefixes() throws {
        let golden = Models.golden("golden_multilingual-e5-small-q4.json")!
        let embedder = try EmbedderCatalog(modelsFolder: Models.folder).embedder(named: "multilingual-e5-small") as! LocalEmbedder
        let sentences = golden["sentences"] as! [[String: Any]]
        let texts = sentences.map { $0["text"] as! String }
        for kind in EmbeddingKind.allCases {
            let vectors = try embedder.embed(texts, kind: kind).vectors
            for (i, sentence) in sentences.enumerated() {
                #expect(embedder.tokenIDs(texts[i], kind: kind).map(Int.init) == sentence["token_ids_\(kind.rawValue)"] as! [Int],
                        "\(kind) tokens of \(texts[i])")
                let similarity = cosine(vectors[i], (sentence["embedding_\(kind.rawValue)"] as! [NSNumber]).map(\.doubleValue))
                #expect(similarity >= 0.999, "\(kind) cosine \(similarity) for \(texts[i])")
            }
        }
    }

    @Test(.enabled(if: Models.has("multilingual-e5-small"), "needs models/multilingual-e5-small (scripts/setup.sh)"))
    func crossLanguageRetrieval() async throws {
        let embedder = try EmbedderCatalog(modelsFolder: Models.folder).embedder(named: "multilingual-e5-small")
        let chinese = try embedder.embed([
            "北京是中华人民共和国的首都，也是全国的政治和文化中心。",
            "猫喜欢在阳光下睡觉，一天可以睡十几个小时。",
            "光合作用是植物利用光能把二氧化碳和水转化为葡萄糖的过程。",
            "央行提高利率之后，股市大幅下跌。",
        ], kind: .passage).vectors
        let english = try embedder.embed([
            "The stock market fell sharply after the central bank raised interest rates.",
            "Photosynthesis converts light energy into chemical energy in plants.",
            "Cats sleep for twelve to sixteen hours a day.",
            "Beijing is the capital of the People's Republic of China.",
        ], kind: .passage).vectors
        func best(_ question: String, among passages: [[Float]]) throws -> Int {
            let q = try embedder.embed([question], kind: .query).vectors[0]
            let scores = passages.map { zip($0, q).reduce(Float(0)) { $0 + $1.0 * $1.1 } }
            return scores.indices.max { scores[$0] < scores[$1] }!
        }
        // English questions find the Chinese passage that answers them …
        #expect(try best("What is the capital of China?", among: chinese) == 0)
        #expect(try best("How long do cats sleep?", among: chinese) == 1)
        #expect(try best("How do plants turn light into energy?", among: chinese) == 2)
        #expect(try best("Why did the stock market fall?", among: chinese) == 3)
        // … and Chinese questions the English one.
        #expect(try best("中国的首都是哪里？", among: english) == 3)
        #expect(try best("猫一天睡多久？", among: english) == 2)
        #expect(try best("植物如何把光能变成化学能？", among: english) == 1)
        #expect(try best("股市为什么下跌？", among: english) == 0)
    }

    @Test func damagedModelFilesGiveSpecificErrors() async throws {
        let folder = TemporaryFolder()
        let missing = await expectKBError(.model) { try EmbedderCatalog(modelsFolder: folder.path).embedder(named: "multilingual-e5-small") }
        #expect(missing?.message.contains("does not exist. Run scripts/setup.sh") == true)
        folder.write("multilingual-e5-small/e5-small-q4.bin", "E5S1garbage")
        let truncated = await expectKBError(.model) { try EmbedderCatalog(modelsFolder: folder.path).embedder(named: "multilingual-e5-small") }
        #expect(truncated?.message.contains("truncated") == true || truncated?.message.contains("version") == true)
        folder.write("all-minilm-l6-v2/config.json", "{\"hidden_size\": 8}")
        folder.write("all-minilm-l6-v2/model.safetensors", Data([1, 0, 0, 0, 0, 0, 0, 0, 0x7B]))
        let bert = await expectKBError(.model) { try EmbedderCatalog(modelsFolder: folder.path).embedder(named: "all-minilm-l6-v2") }
        #expect(bert?.message.contains("config.json has no integer `num_hidden_layers`") == true)
        await expectKBError(.invalidArgument) { try EmbedderCatalog(modelsFolder: folder.path).embedder(named: "no-such-model") }
    }
}

@Suite struct BatchPlanTests {
    @Test func everyTextOnceAndWorkersBalanced() async throws {
        let lengths = (0..<128).map { 40 + ($0 * 37) % 220 }
        let plan = LocalEmbedder.plan(lengths: lengths, workers: 2, tokensPerPass: 8192)
        #expect(plan.count == 2)
        let all = plan.flatMap { $0.flatMap { $0 } }.sorted()
        #expect(all == Array(0..<128))
        let loads = plan.map { $0.flatMap { $0 }.reduce(0) { $0 + lengths[$1] } }
        #expect(Double(abs(loads[0] - loads[1])) / Double(loads.reduce(0, +)) < 0.1)
        for pass in plan.flatMap({ $0 }) { #expect(pass.reduce(0) { $0 + lengths[$1] } <= 8192 + 260) }
        #expect(LocalEmbedder.plan(lengths: [5], workers: 2, tokensPerPass: 8192).flatMap { $0 } == [[0]])
    }
}
