import Foundation
import Testing
@testable import KBCore
import KBTestSupport

/// Cross-language search: a question also searched translated into the other of English and Chinese.
@Suite struct CrossLanguageTests {
    static func passage(_ id: Int, _ text: String) -> RetrievedPassage {
        RetrievedPassage(passage: Passage(chunkID: id, documentID: id, path: "/docs/\(id).md", title: nil, heading: "", text: text,
                                          startLine: 1, endLine: 1, page: nil, ordinal: 0),
                         rank: 1, score: 1, matchedTerms: [], explanation: RetrievalExplanation(keywordRank: 1))
    }

    /// Returns fixed passages per query language, and counts its calls.
    final class FixedRetriever: Retriever, @unchecked Sendable {
        let mode = "hybrid"
        let byLanguage: [String: [RetrievedPassage]]
        private let lock = NSLock()
        private var queries: [String] = []
        init(_ byLanguage: [String: [RetrievedPassage]]) { self.byLanguage = byLanguage }
        var asked: [String] { lock.withLock { queries } }
        func retrieve(_ query: AnalyzedQuery, limit: Int) async throws(KBError) -> Retrieval {
            lock.withLock { queries.append(query.normalized) }
            let hits = (byLanguage[query.language] ?? []).prefix(limit).enumerated().map { offset, hit in
                var ranked = hit
                ranked.rank = offset + 1
                return ranked
            }
            return Retrieval(passages: hits, queryVector: [1, 0], vectorModel: "m")
        }
    }

    final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var value = 0
        func increment() { lock.withLock { value += 1 } }
        var count: Int { lock.withLock { value } }
    }

    static let english = [passage(1, "The bakery on Mill Street opened in 1978."), passage(2, "The harbour was dredged in 1931."),
                          passage(3, "这座石桥建于一六二三年，由当地商人出资修建。")]
    static let chinese = [passage(3, "这座石桥建于一六二三年，由当地商人出资修建。"), passage(4, "科兰支线铁路在一九六二年停止运营。")]

    @Test func theTranslationsRankingIsFusedAndExplained() async throws {
        let base = FixedRetriever(["en": Self.english, "zh": Self.chinese])
        let calls = Counter()
        let retriever = CrossLanguageRetriever(base: base, policy: .auto) { question, language throws(KBError) in
            calls.increment()
            #expect(language == "zh" && question == "When was the stone bridge built?")
            return "这座石桥是什么时候建的？"
        }
        let result = try await retriever.retrieve(try QueryAnalyzer.analyze("When was the stone bridge built?"), limit: 3)
        #expect(calls.count == 1)
        #expect(base.asked == ["When was the stone bridge built?", "这座石桥是什么时候建的？"])
        // RRF, k = 20: the bridge is third in English and first in Chinese: 1/23 + 1/21 beats 1/21 alone.
        #expect(result.passages.map(\.passage.chunkID) == [3, 1, 2])
        #expect(result.passages.map(\.rank) == [1, 2, 3])
        #expect(abs(result.passages[0].score - (1.0 / 23 + 1.0 / 21)) < 1e-12)
        #expect(result.passages[0].explanation?.translatedRank == 1)
        #expect(result.passages[0].explanation?.translation == "这座石桥是什么时候建的？")
        #expect(result.passages[1].explanation?.translatedRank == nil)
        #expect(result.queryVector == [1, 0])   // the original question's embedding, for the answer check
    }

    @Test func autoDoesNotTranslateWhenNothingIsInTheOtherLanguage() async throws {
        let base = FixedRetriever(["en": Array(Self.english.prefix(2))])
        let calls = Counter()
        let retriever = CrossLanguageRetriever(base: base, policy: .auto) { _, _ throws(KBError) in calls.increment(); return "翻译" }
        let result = try await retriever.retrieve(try QueryAnalyzer.analyze("When did the bakery open?"), limit: 1)
        #expect(calls.count == 0 && base.asked.count == 1)
        #expect(result.passages.map(\.passage.chunkID) == [1])
        // `always` translates anyway; `off` never does.
        _ = try await CrossLanguageRetriever(base: base, policy: .always) { _, _ throws(KBError) in calls.increment(); return "面包店什么时候开业？" }
            .retrieve(try QueryAnalyzer.analyze("When did the bakery open?"), limit: 1)
        #expect(calls.count == 1)
        _ = try await CrossLanguageRetriever(base: FixedRetriever(["en": Self.english]), policy: .off) { _, _ throws(KBError) in calls.increment(); return "x" }
            .retrieve(try QueryAnalyzer.analyze("When was the stone bridge built?"), limit: 3)
        #expect(calls.count == 1)
    }

    @Test func aFailedOrWrongLanguageTranslationLeavesTheFirstSearch() async throws {
        let base = FixedRetriever(["en": Self.english, "zh": Self.chinese])
        let question = try QueryAnalyzer.analyze("When was the stone bridge built?")
        let failing = CrossLanguageRetriever(base: base, policy: .always) { _, _ throws(KBError) in throw KBError(.model, "no model") }
        #expect(try await failing.retrieve(question, limit: 3).passages.map(\.passage.chunkID) == [1, 2, 3])
        let english = CrossLanguageRetriever(base: base, policy: .always) { _, _ throws(KBError) in "When was the bridge built?" }
        #expect(try await english.retrieve(question, limit: 3).passages.map(\.passage.chunkID) == [1, 2, 3])
        // Neither English nor Chinese: one search, no translation asked for.
        let calls = Counter()
        let other = CrossLanguageRetriever(base: base, policy: .always) { _, _ throws(KBError) in calls.increment(); return nil }
        _ = try await other.retrieve(try QueryAnalyzer.analyze("橋はいつ建てられましたか"), limit: 3)
        #expect(calls.count == 0)
    }

    @Test func translationsAreCachedPerQuestionAndLanguage() async throws {
        let model = ScriptedModel { messages in
            messages[0].content.contains("Simplified Chinese") ? "石桥是什么时候建的？\nExtra line" : "When was the stone bridge built?"
        }
        let cache = TranslationCache(capacity: 2)
        #expect(try await cache.translate("When was the stone bridge built?", into: "zh", model: model) == "石桥是什么时候建的？")
        #expect(try await cache.translate("When was the stone bridge built?", into: "zh", model: model) == "石桥是什么时候建的？")
        #expect(model.calls.count == 1)
        #expect(try await cache.translate("石桥是什么时候建的？", into: "en", model: model) == "When was the stone bridge built?")
        #expect(model.calls.count == 2)
        // Bounded: a third entry pushes out the oldest, which is then translated again.
        _ = try await cache.translate("Third question?", into: "zh", model: model)
        #expect(await cache.count == 2)
        _ = try await cache.translate("When was the stone bridge built?", into: "zh", model: model)
        #expect(model.calls.count == 4)
    }

    @Test func theConfigurationNamesThePolicy() throws {
        let folder = TemporaryFolder()
        #expect(try Configuration.resolve(environment: [:], currentDirectory: folder.path).translation == .off)
        #expect(try Configuration.resolve(environment: ["KB_TRANSLATE": "auto"], currentDirectory: folder.path).translation == .auto)
        #expect(try Configuration.resolve(environment: ["KB_TRANSLATE": "off"], currentDirectory: folder.path).translation == .off)
        #expect(try Configuration.resolve(Configuration.Overrides(translate: "ALWAYS"), environment: ["KB_TRANSLATE": "off"],
                                          currentDirectory: folder.path).translation == .always)
        folder.write(".kb/config.toml", "[search]\ntranslate = \"always\"\n")
        #expect(try Configuration.resolve(environment: [:], currentDirectory: folder.path).translation == .always)
        #expect(throws: KBError.self) { try Configuration.resolve(environment: ["KB_TRANSLATE": "sometimes"], currentDirectory: folder.path) }
    }
}
