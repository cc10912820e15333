import Foundation
import Testing
@testable import KBCore
import KBTestSupport

/// The repair stage: an answer the check would withhold is tried again, within a budget, and every attempt shows.
@Suite struct RepairTests {
    static let railway = "# 科兰支线\n\n科兰支线铁路于一九零五年通车，主要运输木材和煤炭。由于公路运输兴起，这条铁路在一九六二年停止运营，铁轨随后被拆除。\n"

    static func folder() -> TemporaryFolder {
        let folder = TemporaryFolder()
        folder.write("docs/railway.md", railway)
        folder.write("docs/bakery.md", "# Bakery\n\nThe bakery on Mill Street opened in 1978 and bakes rye bread every morning.\n")
        folder.write("docs/bridge.md", "# 石桥\n\n这座石桥建于一六二三年，由当地商人出资修建，桥长四十米。\n")
        folder.write("docs/harbour.md", "# Harbour\n\nThe harbour was dredged in 1931 so that larger ships could dock.\n")
        return folder
    }

    /// Records what streamed, and the withdrawals, in order.
    final class Stream: @unchecked Sendable {
        private let lock = NSLock()
        private var events: [String] = []
        func text(_ piece: String) { lock.withLock { events.append("text:" + piece) } }
        func replaced(_ reason: String) { lock.withLock { events.append("replaced:" + reason) } }
        var all: [String] { lock.withLock { events } }
        /// What a reader sees: the text after the last withdrawal.
        var visible: String {
            let events = all
            let start = (events.lastIndex { $0.hasPrefix("replaced:") }.map { $0 + 1 }) ?? 0
            return events[start...].filter { $0.hasPrefix("text:") }.map { String($0.dropFirst(5)) }.joined()
        }
    }

    static func knowledgeBase(_ folder: TemporaryFolder, model: ScriptedModel,
                              configure: (inout Configuration) -> Void = { _ in }) async throws -> KnowledgeBase {
        var configuration = Configuration(databasePath: folder.path + "/.kb/kb.sqlite", knowledgeFolders: [folder.path + "/docs"])
        configure(&configuration)
        let kb = try KnowledgeBase(configuration: configuration, create: true,
                                   generator: LanguageModelGenerator(name: "llama", languageModel: model))
        _ = try await kb.ingest(embed: false)
        return kb
    }

    static func system(_ messages: [ChatMessage]) -> String { messages.first?.content ?? "" }

    @Test func aRefusalIsRepairedFromTheBestPassageAndTheStreamSaysSo() async throws {
        let folder = Self.folder()
        // Like the small model: from five passages it says it found nothing; from one passage it answers.
        let model = ScriptedModel { messages in
            Self.system(messages).contains("one short sentence") ? "科兰支线铁路在一九六二年停止运营[1]。" : "知识库中没有找到答案。"
        }
        let kb = try await Self.knowledgeBase(folder, model: model)
        let stream = Stream()
        let answer = try await kb.ask("科兰支线铁路是哪一年停止运营的？", onText: { stream.text($0) }, onReplaced: { stream.replaced($0) })
        #expect(!answer.abstained, "\(answer.abstainReason ?? "")")
        #expect(answer.answer.contains("一九六二年"))
        #expect(answer.attempts.map(\.strategy) == ["initial", "best-passage"])
        #expect(answer.attempts[0].rejected == "The generator found no answer in the passages.")
        #expect(answer.attempts[1].accepted && answer.attempts[1].passages == [1])
        #expect(answer.replaced)
        #expect(answer.citations.first?.path.hasSuffix("railway.md") == true)
        // The refusal streamed, was withdrawn with its reason, and the repaired answer followed.
        let events = stream.all
        let withdrawal = try #require(events.firstIndex { $0.hasPrefix("replaced:") })
        #expect(events[..<withdrawal].map { $0.replacingOccurrences(of: "text:", with: "") }.joined().contains("没有找到"))
        #expect(stream.visible == answer.answer)
        #expect(answer.timings.stages.map(\.stage).contains("repair"))
        // The stored answer keeps its attempts.
        let conversationID = try #require(answer.conversationID)
        let turn = try #require(try await kb.conversation(id: conversationID).turns.last)
        #expect(turn.attempts.map(\.strategy) == ["initial", "best-passage"])
    }

    @Test func whenNoRepairPassesKbAbstainsAndWithdrawsWhatStreamed() async throws {
        let folder = Self.folder()
        // An answer about something else entirely: never supported by the passages.
        let model = ScriptedModel { _ in "The moon is made of green cheese [1]." }
        let kb = try await Self.knowledgeBase(folder, model: model) {
            $0.repair.strategies = [.bestPassage, .quote]
            $0.repair.seconds = 600   // a loaded test machine must not run out of the budget
        }
        let stream = Stream()
        let answer = try await kb.ask("When did the harbour get dredged for larger ships?", onText: { stream.text($0) },
                                      onReplaced: { stream.replaced($0) })
        #expect(answer.abstained)
        #expect(answer.attempts.map(\.strategy) == ["initial", "best-passage", "quote"])
        #expect(answer.attempts.allSatisfy { !$0.accepted })
        #expect(answer.replaced)
        #expect(stream.visible == answer.answer, "only the abstention remains visible")
        #expect(!stream.visible.contains("cheese"))
    }

    @Test func byDefaultKbDoesNotFallBackToQuotingPassages() async throws {
        let folder = Self.folder()
        let model = ScriptedModel { _ in "The moon is made of green cheese [1]." }
        let kb = try await Self.knowledgeBase(folder, model: model) { $0.repair.seconds = 600 }
        let answer = try await kb.ask("When was the harbour dredged so that larger ships could dock?")
        #expect(answer.abstained)
        #expect(answer.attempts.map(\.strategy) == ["initial", "best-passage", "quote"], "restated does not apply: one language")
    }

    @Test func theExtractiveAnswerIsTheLastResortAndIsLabelled() async throws {
        let folder = Self.folder()
        let model = ScriptedModel { _ in "The moon is made of green cheese [1]." }
        let kb = try await Self.knowledgeBase(folder, model: model) {
            $0.repair.strategies = [.bestPassage, .quote, .extractive]
            $0.repair.seconds = 600
        }
        let answer = try await kb.ask("When was the harbour dredged so that larger ships could dock?")
        #expect(!answer.abstained)
        #expect(answer.attempts.last?.strategy == "extractive")
        #expect(answer.answer.contains("1931"))
        #expect(answer.attempts.dropFirst().dropLast().allSatisfy { $0.strategy != "extractive" && !$0.accepted })
    }

    @Test func theBudgetBoundsTheAttempts() async throws {
        let folder = Self.folder()
        let model = ScriptedModel { _ in "The moon is made of green cheese [1]." }
        // No repair at all: the first answer is withheld, nothing else is tried.
        let off = try await Self.knowledgeBase(folder, model: model) {
            $0.repair.attempts = 0
            $0.repair.strategies = RepairStrategy.allCases
        }
        let none = try await off.ask("When was the harbour dredged so that larger ships could dock?")
        #expect(none.abstained && none.attempts.map(\.strategy) == ["initial"])
        // No seconds for the model: only the extractive answer (milliseconds) is tried.
        let calls = model.calls.count
        let hurried = try await Self.knowledgeBase(Self.folder(), model: model) {
            $0.repair.seconds = 0
            $0.repair.strategies = RepairStrategy.allCases
        }
        let quoted = try await hurried.ask("When was the harbour dredged so that larger ships could dock?")
        #expect(quoted.attempts.map(\.strategy) == ["initial", "extractive"])
        #expect(model.calls.count == calls + 1, "the model wrote only the first answer")
    }

    @Test func aQuestionInTheOtherLanguageIsRestatedInThePassagesLanguage() async throws {
        let folder = Self.folder()
        // A Chinese passage whose heading carries the English name, so that retrieval is confident enough to generate.
        folder.write("docs/bridge.md", "# 石桥 (the old stone bridge, built 1623)\n\n这座石桥建于一六二三年，由当地商人出资修建，桥长四十米。\n")
        let model = ScriptedModel { messages in
            let system = Self.system(messages), user = messages.last?.content ?? ""
            if system.contains("Translate") { return "这座石桥是哪一年建的？" }
            // Answers only a Chinese question, in Chinese.
            if user.contains("Question: 这座石桥") { return "这座石桥建于一六二三年[1]。" }
            return "The knowledge base does not contain the answer."
        }
        let kb = try await Self.knowledgeBase(folder, model: model) {
            $0.repair.strategies = [.restated]
            $0.repair.seconds = 600
        }
        let answer = try await kb.ask("In which year was the old stone bridge built?", passages: 2)
        #expect(answer.attempts.map(\.strategy) == ["initial", "restated"], "\(answer.attempts)")
        #expect(answer.attempts.last?.question == "这座石桥是哪一年建的？")
        #expect(!answer.abstained && answer.answer.contains("一六二三年"))
    }

    @Test func theCheckRejectsAnswersInTheWrongLanguageOrWithoutTheAskedNumber() throws {
        let zh = try QueryAnalyzer.analyze("科兰支线铁路是哪一年停止运营的？")
        #expect(CitationVerifier.languageMismatch(answer: "The railway stopped running in 1962 after roads took over.", question: zh) != nil)
        #expect(CitationVerifier.languageMismatch(answer: "Nexon", question: zh) == nil, "a short name is not a language")
        #expect(CitationVerifier.languageMismatch(answer: "一九六二年停止运营。", question: zh) == nil)
        #expect(CitationVerifier.asksForNumber(zh))
        #expect(CitationVerifier.hasNumber("一九六二年"))
        let en = try QueryAnalyzer.analyze("How many patients were enrolled in the trial?")
        #expect(CitationVerifier.asksForNumber(en))
        #expect(!CitationVerifier.hasNumber("The trial enrolled patients with heart failure."))
        #expect(CitationVerifier.hasNumber("It enrolled 120 patients."))
        #expect(!CitationVerifier.asksForNumber(try QueryAnalyzer.analyze("Who paid for the bridge?")))

        let shown = passage(1, "The trial enrolled patients with heart failure at four hospitals in Norway.")
        let verdict = try CitationVerifier().assess(answer: "The trial enrolled patients with heart failure [1].", question: en,
                                                    passages: [shown], passagesShown: 1, retrievalConfidence: 0.9, generatorAbstained: false)
        #expect(verdict.abstainReason == "The question asks for a number or a year and the answer gives none.")
    }

    @Test func evaluationCountsRescuesAndWrongRescues() {
        func result(_ id: String, answerable: Bool, f1: Double, strategy: String?, rejected: Bool) -> QAMetrics.PerQuestion {
            QAMetrics.PerQuestion(id: id, question: id, answerable: answerable, gold: ["x"], answer: "", abstained: strategy == nil,
                                  exactMatch: 0, f1: f1, citesGold: false, citationAccuracy: nil, retrievalConfidence: 0.8,
                                  keywordCoverage: 0.8, vectorSimilarity: nil, groundedness: 1, seconds: 1, firstToken: nil,
                                  strategy: strategy, attempts: rejected ? 2 : 1, initialRejected: rejected)
        }
        let metrics = QAMetrics.summarize([
            result("a", answerable: true, f1: 0.8, strategy: "initial", rejected: false),
            result("b", answerable: true, f1: 0.6, strategy: "best-passage", rejected: true),
            result("c", answerable: false, f1: 0, strategy: "best-passage", rejected: true),
            result("d", answerable: true, f1: 0, strategy: "extractive", rejected: true),
            result("e", answerable: true, f1: 0, strategy: nil, rejected: true),
        ], generator: GeneratorInfo(name: "llama", model: nil), seconds: 5)
        #expect(metrics.initialRejected == 4)
        #expect(metrics.rescueRate == 0.75)
        #expect(metrics.rescues == [QAMetrics.Rescue(strategy: "best-passage", rescued: 2, wrong: 1),
                                    QAMetrics.Rescue(strategy: "extractive", rescued: 1, wrong: 1)])
    }
}

/// Simplified and traditional Chinese find each other in keyword search.
@Suite struct ChineseVariantTests {
    @Test func traditionalCharactersFoldToSimplified() {
        #expect(ChineseVariants.fold("這座石橋建於一六二三年，由當地商人出資修建") == "这座石桥建于一六二三年，由当地商人出资修建")
        #expect(ChineseVariants.fold("这座石桥 plain text") == "这座石桥 plain text")
    }

    @Test func aSimplifiedQueryFindsTraditionalTextAndBack() async throws {
        let folder = TemporaryFolder()
        folder.write("docs/traditional.md", "# 石橋\n\n這座石橋建於一六二三年，由當地商人出資修建。\n")
        folder.write("docs/simplified.md", "# 铁路\n\n科兰支线铁路在一九六二年停止运营。\n")
        folder.write("docs/other.md", "# 面包\n\n面包店每天早上烤黑麦面包。\n")
        let kb = try folder.knowledgeBase()
        _ = try await kb.ingest(embed: false)
        let fromSimplified = try await kb.search("石桥 商人出资", mode: .keyword)
        #expect(fromSimplified.results.first?.path.hasSuffix("traditional.md") == true)
        #expect(fromSimplified.results.first?.highlights.isEmpty == false, "the traditional text is highlighted")
        let fromTraditional = try await kb.search("鐵路 停止運營", mode: .keyword)
        #expect(fromTraditional.results.first?.path.hasSuffix("simplified.md") == true)
    }
}
