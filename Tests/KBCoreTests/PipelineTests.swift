import Foundation
import Testing
@testable import KBCore
import KBTestSupport

/// The ask pipeline's stages and the registry that fills them.
@Suite struct PipelineTests {
    static func folder() -> TemporaryFolder {
        let folder = TemporaryFolder()
        folder.write("docs/rome.md", "# Colosseum\n\nThe Colosseum in Rome opened in 80 AD under emperor Titus.\n")
        folder.write("docs/paris.md", "# Eiffel Tower\n\nThe Eiffel Tower in Paris was completed in 1889.\n")
        return folder
    }

    @Test func everyStageIsTimedInOrder() async throws {
        let folder = Self.folder()
        let kb = try folder.knowledgeBase()
        _ = try await kb.ingest(embed: false)
        let answer = try await kb.ask("When did the Colosseum open?")
        #expect(answer.timings.stages.map(\.stage) == ["understand", "rewrite", "retrieve", "rerank", "gate", "generate", "assess", "repair", "assemble", "save"])
        #expect(answer.timings.stages.allSatisfy { $0.seconds >= 0 })
        #expect(answer.timings.stages.map(\.seconds).reduce(0, +) <= answer.timings.total + 1e-6)
        // An abstention at the gate skips the content stages, still assembled and saved.
        let unknown = try await kb.ask("zeppelin hangar dimensions")
        #expect(unknown.abstained)
        #expect(unknown.timings.stages.map(\.stage) == ["understand", "rewrite", "retrieve", "rerank", "gate", "repair", "assemble", "save"])
    }

    /// A stage that keeps only the best passage (what a repair stage might do).
    struct KeepBestPassage: AskStage {
        let name = "keep-best"
        func run(_ state: inout AskState, _ context: AskContext) async throws(KBError) {
            state.retrieval.passages = Array(state.passages.prefix(1))
        }
    }

    @Test func aStageIsInsertedNotThreadedThrough() async throws {
        let folder = Self.folder()
        let model = ScriptedModel { _ in "The Colosseum opened in 80 AD [1]." }
        let generator = LanguageModelGenerator(name: "scripted", languageModel: model)
        let configuration = Configuration(databasePath: folder.path + "/.kb/kb.sqlite", knowledgeFolders: [folder.path + "/docs"])
        let kb = try KnowledgeBase(configuration: configuration, create: true, generator: generator,
                                   pipeline: AskPipeline.standard.inserting(KeepBestPassage(), before: "generate"))
        _ = try await kb.ingest(embed: false)
        let answer = try await kb.ask("When did the Colosseum in Rome open, and when was the Eiffel Tower completed?")
        #expect(answer.timings.stages.map(\.stage).firstIndex(of: "keep-best") == answer.timings.stages.map(\.stage).firstIndex(of: "generate").map { $0 - 1 })
        let prompt = try #require(model.calls.last?.last?.content)
        #expect(prompt.contains("<passage id=\"1\"") && !prompt.contains("<passage id=\"2\""), "the generator saw only the passage the inserted stage kept")
        #expect(answer.passages.count == 1)
    }

    /// A reranker that reverses the retriever's order.
    struct ReversingReranker: Reranker {
        let name = "reverse"
        func rerank(_ query: AnalyzedQuery, passages: [RetrievedPassage]) async throws(KBError) -> [RetrievedPassage] {
            passages.reversed().enumerated().map { offset, passage in
                var passage = passage
                passage.rank = offset + 1
                return passage
            }
        }
    }

    @Test func aRegisteredImplementationIsChosenByName() async throws {
        let folder = Self.folder()
        var registry = ComponentRegistry.standard
        registry.registerReranker("reverse") { _ in ReversingReranker() }
        var configuration = Configuration(databasePath: folder.path + "/.kb/kb.sqlite", knowledgeFolders: [folder.path + "/docs"])
        let plain = try KnowledgeBase(configuration: configuration, create: true, generator: ExtractiveGenerator())
        _ = try await plain.ingest(embed: false)
        let question = "When was the Eiffel Tower in Paris completed? And the Colosseum in Rome?"
        let before = try await plain.ask(question, passages: 2).passages.map(\.path)
        configuration.pipeline.reranker = "reverse"
        let reversed = try KnowledgeBase(configuration: configuration, generator: ExtractiveGenerator(), registry: registry)
        let after = try await reversed.ask(question, passages: 2).passages.map(\.path)
        #expect(before.count == 2)
        #expect(after == before.reversed())
        // An unknown name is a configuration error that lists what is registered.
        configuration.pipeline.reranker = "missing"
        let broken = try KnowledgeBase(configuration: configuration, generator: ExtractiveGenerator(), registry: registry)
        let error = await expectKBError(.configuration) { try await broken.ask(question) }
        #expect(error?.message.contains("known: identity, reverse") == true)
    }
}

/// The generation queue is per backend: a server that can write several answers at once gets them.
@Suite struct GenerationQueueTests {
    /// Counts how many answers are written at the same time.
    final class Overlap: @unchecked Sendable {
        private let lock = NSLock()
        private var active = 0
        private var highest = 0
        var current: Int { lock.withLock { active } }
        var maximum: Int { lock.withLock { highest } }
        func enter() { lock.withLock { active += 1; highest = max(highest, active) } }
        func leave() { lock.withLock { active -= 1 } }
    }

    /// Waits (up to 10 s) until `together` answers are being written at once, then answers.
    struct TimedGenerator: AnswerGenerator {
        let name = "timed"
        let model: String? = nil
        let overlap: Overlap
        let together: Int
        func generate(_ request: GenerationRequest, onText: @escaping @Sendable (String) -> Void) async throws(KBError) -> GeneratedAnswer {
            overlap.enter()
            defer { overlap.leave() }
            let deadline = Date().addingTimeInterval(10)
            while overlap.current < together && Date() < deadline { try? await Task.sleep(nanoseconds: 10_000_000) }
            return try await ExtractiveGenerator().generate(request, onText: onText)
        }
    }

    static func service(concurrency: Int, together: Int, queue: Int, overlap: Overlap, folder: TemporaryFolder) async throws -> KnowledgeService {
        folder.write("docs/rome.md", "# Colosseum\n\nThe Colosseum in Rome opened in 80 AD under emperor Titus.\n")
        var registry = ComponentRegistry.standard
        registry.registerGenerator("timed", summary: { _ in "test" }) { _ in
            GeneratorChoice(generator: TimedGenerator(overlap: overlap, together: together), concurrency: concurrency)
        }
        var configuration = Configuration(databasePath: folder.path + "/.kb/kb.sqlite", knowledgeFolders: [folder.path + "/docs"])
        configuration.generation.generator = "timed"
        let kb = try KnowledgeBase(configuration: configuration, create: true, registry: registry)
        _ = try await kb.ingest(embed: false)
        return try KnowledgeService(knowledgeBase: kb, queue: queue)
    }

    static func askAll(_ service: KnowledgeService, _ count: Int) async -> [KBError.Code?] {
        await withTaskGroup(of: KBError.Code?.self) { group in
            for _ in 0..<count {
                group.addTask {
                    do { _ = try await service.ask(AskRequest(question: "When did the Colosseum in Rome open?"), caller: .owner); return nil } catch {
                        return (error as? KBError)?.code ?? .internalError
                    }
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
    }

    @Test func aServerBackendWritesSeveralAnswersAtOnce() async throws {
        let overlap = Overlap(), folder = TemporaryFolder()
        let service = try await Self.service(concurrency: 3, together: 3, queue: 0, overlap: overlap, folder: folder)
        #expect(service.generation.running == 3)
        let outcomes = await Self.askAll(service, 3)
        #expect(outcomes.allSatisfy { $0 == nil }, "\(outcomes)")
        #expect(overlap.maximum == 3, "three answers were written at the same time")
        withExtendedLifetime(folder) {}
    }

    @Test func anInProcessModelWritesOneAtATime() async throws {
        let overlap = Overlap(), folder = TemporaryFolder()
        // One slot and room for one to wait: both are answered, one after the other, never two at once.
        let service = try await Self.service(concurrency: 1, together: 1, queue: 1, overlap: overlap, folder: folder)
        #expect(service.generation.running == 1)
        let outcomes = await Self.askAll(service, 2)
        #expect(outcomes.allSatisfy { $0 == nil }, "\(outcomes)")
        #expect(overlap.maximum == 1)
        withExtendedLifetime(folder) {}
    }

    @Test func aFullQueueRefusesAtOnce() async throws {
        let limiter = GenerationLimiter(running: 3, waiting: 1)
        for _ in 0..<3 { try await limiter.acquire() }
        let waiter = Task { try await limiter.acquire() }   // waits: one place in the queue
        while await limiter.depth < 4 { await Task.yield() }
        let refused = await expectKBError(.busy) { try await limiter.acquire() }
        #expect(refused?.message.contains("busy") == true)
        await limiter.release()
        try await waiter.value   // the waiter got the freed slot
        #expect(await limiter.depth == 3)
    }
}
