import Foundation
import Testing
@testable import KBCore
import KBTestSupport

func turn(_ question: String, standalone: String? = nil, answer: String = "") -> AnswerRecord {
    AnswerRecord(id: "a_1", conversationID: "c_1", turn: 1, question: question, standaloneQuestion: standalone ?? question,
                 language: "en", answer: answer, abstained: false, generator: "extractive", model: nil, citations: [], passages: [],
                 quality: QualityScores(groundedness: 1, citationAccuracy: nil, retrievalConfidence: 1, relevance: 1), createdAt: 0)
}

@Suite struct RewriterTests {
    let rewriter = HeuristicRewriter()

    @Test func englishFollowUpsCarryTheNamesOfThePreviousQuestion() async throws {
        let history = [turn("When did the Colosseum in Rome open?")]
        #expect(rewriter.rewriteNow(try QueryAnalyzer.analyze("and when did it close?"), history: history)
                == "and when did it close? (Colosseum Rome)")
        #expect(rewriter.rewriteNow(try QueryAnalyzer.analyze("What about its architects?"), history: history)
                == "What about its architects? (Colosseum Rome)")
        // A question that stands on its own, or a conversation that has not started, is left alone.
        #expect(rewriter.rewriteNow(try QueryAnalyzer.analyze("Who painted the Sistine Chapel ceiling?"), history: history) == nil)
        #expect(rewriter.rewriteNow(try QueryAnalyzer.analyze("and when did it close?"), history: []) == nil)
        // Without names, the previous question's content words.
        #expect(rewriter.rewriteNow(try QueryAnalyzer.analyze("how is it configured?"), history: [turn("what does the keyword index store?")])
                == "how is it configured? (keyword index store)")
    }

    @Test func chineseFollowUpsGetTheTopicInPlaceOfThePronoun() async throws {
        let history = [turn("红楼梦是什么时候写的？")]
        #expect(rewriter.rewriteNow(try QueryAnalyzer.analyze("它的作者是谁？"), history: history) == "红楼梦的作者是谁？")
        #expect(rewriter.rewriteNow(try QueryAnalyzer.analyze("那作者呢？"), history: history) == "红楼梦作者呢？")
        #expect(rewriter.rewriteNow(try QueryAnalyzer.analyze("这个小说有多长？"), history: history) == "红楼梦小说有多长？")
        #expect(HeuristicRewriter.chineseTopic("黑龙江省博物馆在哪？") == "黑龙江省博物馆")
        #expect(rewriter.rewriteNow(try QueryAnalyzer.analyze("北京是哪个国家的首都？"), history: history) == nil)
    }

    @Test func theModelsRewriteIsCheckedBeforeItIsUsed() async throws {
        let history = [turn("When did the Colosseum in Rome open?", answer: "It opened in 80 AD [1].")]
        let question = try QueryAnalyzer.analyze("and when did it close?")
        let good = LanguageModelRewriter(model: ScriptedModel(reply: "When did the Colosseum in Rome close?"))
        #expect(try await good.rewrite(question, history: history) == "When did the Colosseum in Rome close?")
        // An answer instead of a question, or a refusal: the heuristic steps in.
        let answering = LanguageModelRewriter(model: ScriptedModel(reply: "The Colosseum opened in 80 AD."))
        #expect(try await answering.rewrite(question, history: history) == "and when did it close? (Colosseum Rome)")
        let chinese = LanguageModelRewriter(model: ScriptedModel(reply: "斗兽场什么时候关闭？"))
        #expect(try await chinese.rewrite(question, history: history) == "and when did it close? (Colosseum Rome)")
    }
}

@Suite struct ConversationTests {
    func knowledgeBase() async throws -> (TemporaryFolder, KnowledgeBase, ScriptedModel) {
        let folder = TemporaryFolder()
        folder.write("docs/rome.md", "# Colosseum\n\nThe Colosseum in Rome opened in 80 AD under emperor Titus.\n\n# Later\n\nThe Colosseum closed as an arena in the 6th century.\n")
        folder.write("docs/paris.md", "# Paris\n\nThe Eiffel Tower was completed in 1889.\n")
        let model = ScriptedModel { messages in
            if messages[0].content.hasPrefix("Rewrite the user's last question") { return "When did the Colosseum in Rome close?" }
            let user = messages.last?.content ?? ""
            if user.contains("Question: When did the Colosseum in Rome close?") { return "It closed as an arena in the 6th century [1]." }
            return "The Colosseum opened in 80 AD [1]."
        }
        let kb = try folder.knowledgeBase(generator: LanguageModelGenerator(name: "scripted", languageModel: model))
        _ = try await kb.ingest(embed: false)
        return (folder, kb, model)
    }

    @Test func followUpsAreRewrittenAndTurnsAreKept() async throws {
        let (_, kb, model) = try await knowledgeBase()
        let first = try await kb.ask("When did the Colosseum in Rome open?")
        let conversation = try #require(first.conversationID)
        #expect(conversation.hasPrefix("c_"))
        #expect(first.turn == 1)
        #expect(first.standaloneQuestion == first.question)

        let second = try await kb.ask("and when did it close?", conversation: conversation)
        #expect(second.question == "and when did it close?")
        #expect(second.standaloneQuestion == "When did the Colosseum in Rome close?")
        #expect(second.turn == 2)
        #expect(second.answer.contains("6th century"))
        #expect(second.timings.rewrite != nil)
        // The generator saw the standalone question.
        #expect(model.calls.last?.last?.content.hasSuffix("Question: When did the Colosseum in Rome close?") == true)

        let stored = try await kb.conversation(id: conversation)
        #expect(stored.turns.map(\.turn) == [1, 2])
        #expect(stored.turns.map(\.question) == ["When did the Colosseum in Rome open?", "and when did it close?"])
        #expect(stored.turns[1].standaloneQuestion == "When did the Colosseum in Rome close?")
        #expect(stored.turns[1].citations.first?.path.hasSuffix("rome.md") == true)
        #expect(stored.turns[1].quality.groundedness == 1)
        #expect(stored.turns[1].passages.isEmpty == false)
        #expect(stored.title == "When did the Colosseum in Rome open?")
    }

    @Test func unknownConversationsAndAnswersAreClearErrors() async throws {
        let (_, kb, _) = try await knowledgeBase()
        let error = await #expect(throws: KBError.self) { _ = try await kb.ask("and then?", conversation: "c_nope") }
        #expect(error?.message.contains("There is no conversation c_nope") == true)
        let rating = await expectKBError(.invalidArgument) { try await kb.rate(answerID: "a_nope", up: false) }
        #expect(rating?.message.contains("There is no answer a_nope") == true)
    }

    @Test func feedbackIsStoredAndReportedWorstFirst() async throws {
        let (_, kb, _) = try await knowledgeBase()
        let good = try await kb.ask("When did the Colosseum in Rome open?")
        let bad = try await kb.ask("When was the Eiffel Tower completed?")
        let unrated = try await kb.ask("When did the Colosseum close?")
        try await kb.rate(answerID: good.answerID, up: true)
        try await kb.rate(answerID: bad.answerID, up: false, comment: "cites the wrong document")
        try await kb.rate(answerID: bad.answerID, up: false)
        try await kb.rate(answerID: bad.answerID, up: true)
        let report = try await kb.feedbackReport()
        #expect(report.answers == 3)
        #expect(report.rated == 2)
        #expect(report.up == 2 && report.down == 2)
        #expect(report.days.count == 1 && report.days[0].up == 2 && report.days[0].down == 2)
        #expect(report.worst.count == 1)
        #expect(report.worst[0].answer.id == bad.answerID)
        #expect(report.worst[0].down == 2 && report.worst[0].up == 1)
        #expect(report.worst[0].comments == ["cites the wrong document"])
        #expect(report.worst[0].answer.question == "When was the Eiffel Tower completed?")
        #expect(!report.worst[0].answer.passages.isEmpty)
        _ = unrated
    }

    @Test func evaluationAnswersAreNotKept() async throws {
        let (_, kb, _) = try await knowledgeBase()
        let answer = try await kb.ask("When did the Colosseum in Rome open?", remember: false)
        #expect(answer.conversationID == nil)
        await #expect(try kb.feedbackReport().answers == 0)
    }
}
