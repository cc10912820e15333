import Foundation
import Testing
@testable import KBCore
import KBTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// The GGUF models and the llama-server binary scripts/setup.sh installs.
enum LocalLanguageModels {
    static var smolLM: String? {
        let path = Models.folder + "/gguf/smollm2-135m-instruct-q4_1.gguf"
        return FileManager.default.fileExists(atPath: path) ? path : nil
    }

    static var llamaServer: String? {
        let environment = ProcessInfo.processInfo.environment
        let candidates = [environment["KB_LLAMA_SERVER"], (environment["KB_LLAMA_PREFIX"] ?? "/usr/local") + "/bin/llama-server"]
        return candidates.compactMap { $0 }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// One loaded SmolLM2 shared by the tests (loading is cheap, but one context is enough).
    static let shared: LlamaLanguageModel? = smolLM.flatMap { try? LlamaLanguageModel(path: $0, name: "smollm2-135m", contextTokens: 2048, threads: 2) }

    static func harbour() -> TemporaryFolder {
        let folder = TemporaryFolder()
        folder.write("docs/harbour.md", """
            # Harbour

            The lighthouse keeper of Port Ellis is named Marguerite Olsen. She has kept the light since 1994.

            # Boats

            The ferry to Port Ellis leaves every morning at seven.

            """)
        return folder
    }
}

@Suite(.serialized, .enabled(if: LocalLanguageModels.smolLM != nil, "SmolLM2 is not installed (scripts/setup.sh)"))
struct InProcessModelTests {
    @Test func answersWithTheFactFromTheKnowledgeBaseRepeatably() async throws {
        let model = try #require(LocalLanguageModels.shared)
        let folder = LocalLanguageModels.harbour()
        let kb = try folder.knowledgeBase(generator: LanguageModelGenerator(name: "llama", languageModel: model))
        _ = try await kb.ingest(embed: false)
        let streamed = TextBox()
        let answer = try await kb.ask("What is the name of the lighthouse keeper of Port Ellis?") { streamed.append($0) }
        let generated = try #require(answer.generatedText)
        #expect(generated.contains("Marguerite Olsen"), "\(generated)")
        #expect(streamed.value.trimmingCharacters(in: .whitespacesAndNewlines) == generated)
        #expect(!answer.abstained, "\(answer.abstainReason ?? "")")
        #expect(answer.citations.contains { $0.supported && $0.path.hasSuffix("harbour.md") })
        #expect(answer.generator == GeneratorInfo(name: "llama", model: "smollm2-135m"))
        #expect((answer.timings.promptTokens ?? 0) > 50)
        #expect((answer.timings.generatedTokens ?? 0) > 0)
        #expect(answer.timings.firstToken != nil)

        // Greedy decoding: the same question gives the same text (and reuses the cached prompt prefix).
        let again = try await kb.ask("What is the name of the lighthouse keeper of Port Ellis?")
        #expect(again.generatedText == generated)
    }

    @Test func theChatTemplateComesFromTheModel() async throws {
        let model = try #require(LocalLanguageModels.shared)
        let prompt = try model.prompt(for: [ChatMessage(role: "system", content: "S"), ChatMessage(role: "user", content: "U")])
        #expect(prompt.contains("<|im_start|>system\nS<|im_end|>"))
        #expect(prompt.hasSuffix("<|im_start|>assistant\n"))
        #expect(model.countTokens("Port Ellis") > 0)
        #expect(model.contextTokens == 2048)
    }

    @Test func stopsAtTheTokenLimitAndWhenTheCallerStops() async throws {
        let model = try #require(LocalLanguageModels.shared)
        let messages = [ChatMessage(role: "user", content: "Count from one to one hundred in words.")]
        let limited = try await model.complete(messages, sampling: SamplingOptions(maxTokens: 5)) { _ in true }
        #expect(limited.stats.generatedTokens == 5)
        #expect(limited.stats.finishReason == "length")
        let pieces = TextBox()
        let stopped = try await model.complete(messages, sampling: SamplingOptions(maxTokens: 200)) { piece in
            pieces.append(piece)
            return false
        }
        #expect(stopped.stats.finishReason == "cancelled")
        #expect(stopped.stats.generatedTokens <= 3)
        // Sampling with a seed is repeatable too.
        let hot = SamplingOptions(temperature: 0.9, seed: 7, maxTokens: 12)
        let first = try await model.complete(messages, sampling: hot) { _ in true }
        let second = try await model.complete(messages, sampling: hot) { _ in true }
        #expect(first.text == second.text)
    }

    @Test func cancellingTheTaskStopsGeneration() async throws {
        let model = try #require(LocalLanguageModels.shared)
        let started = Counter()
        let task = Task {
            try await model.complete([ChatMessage(role: "user", content: "Write a long story about a lighthouse.")],
                                     sampling: SamplingOptions(maxTokens: 400)) { _ in
                started.increment()
                return true
            }
        }
        while started.value == 0 { try await Task.sleep(nanoseconds: 5_000_000) }
        task.cancel()
        let result = try await task.value
        #expect(result.stats.finishReason == "cancelled")
        #expect(result.stats.generatedTokens < 400)
    }

    @Test func aPromptLargerThanTheContextIsAClearError() async throws {
        let model = try #require(LocalLanguageModels.shared)
        let huge = String(repeating: "lighthouse keeper ", count: 3000)
        let error = await #expect(throws: KBError.self) {
            _ = try await model.complete([ChatMessage(role: "user", content: huge)], sampling: SamplingOptions()) { _ in true }
        }
        #expect(error?.message.contains("context") == true)
    }

    @Test func aMissingOrBrokenModelFileIsAClearError() async throws {
        let folder = TemporaryFolder()
        await expectKBError(.model) { _ = try LlamaLanguageModel(path: folder.path + "/none.gguf", name: "none") }
        folder.write("broken.gguf", "GGUF but not really")
        let error = await expectKBError(.model) { _ = try LlamaLanguageModel(path: folder.path + "/broken.gguf", name: "broken") }
        #expect(error?.message.contains("could not load") == true)
    }
}

/// A real `llama-server` on a free loopback port, stopped when the test ends.
final class LlamaServerProcess {
    let process = Process()
    let port: UInt16
    var baseURL: String { "http://127.0.0.1:\(port)/v1" }

    init(binary: String, model: String, alias: String, threads: Int = 2) throws {
        port = Self.freePort()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["-m", model, "--alias", alias, "--host", "127.0.0.1", "--port", String(port), "-c", "2048",
                             "-t", String(threads), "--no-webui"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Wait until /health says the model is loaded.
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            if process.isRunning == false { throw KBError(.generation, "llama-server exited with status \(process.terminationStatus)") }
            if let data = try? Data(contentsOf: URL(string: "http://127.0.0.1:\(port)/health")!),
               String(decoding: data, as: UTF8.self).contains("ok") { return }
            usleep(200_000)
        }
        throw KBError(.generation, "llama-server did not become healthy within 60 s")
    }

    deinit {
        // Reaps with waitpid: Foundation's isRunning/waitUntilExit learn of the exit through a run loop that
        // a test's thread does not run.
        let pid = process.processIdentifier
        kill(pid, SIGTERM)
        var status: Int32 = 0
        let deadline = Date().addingTimeInterval(3)
        while Date() < deadline {
            let result = waitpid(pid, &status, WNOHANG)
            if result == pid || result < 0 { return }
            usleep(20_000)
        }
        kill(pid, SIGKILL)
        _ = waitpid(pid, &status, 0)
    }

    static func freePort() -> UInt16 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        var bound = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &bound) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return UInt16(bigEndian: bound.sin_port)
    }
}

@Suite(.serialized, .enabled(if: LocalLanguageModels.smolLM != nil && LocalLanguageModels.llamaServer != nil,
                             "SmolLM2 or llama-server is not installed (scripts/setup.sh)"))
struct LlamaServerTests {
    @Test func answersThroughARealLlamaServerWithStreaming() async throws {
        let server = try LlamaServerProcess(binary: LocalLanguageModels.llamaServer!, model: LocalLanguageModels.smolLM!, alias: "smollm2")
        let chat = OpenAIChatModel(endpoint: ChatEndpoint(baseURL: server.baseURL, model: "smollm2", timeout: 60, contextTokens: 2048))
        let pieces = TextBox()
        let count = Counter()
        let (text, stats) = try await chat.complete([ChatMessage(role: "user", content: "Say hello to Marguerite.")],
                                                    sampling: SamplingOptions(maxTokens: 24)) { piece in
            pieces.append(piece)
            count.increment()
            return true
        }
        #expect(!text.isEmpty)
        #expect(pieces.value == text)
        #expect(count.value > 1)   // streamed in several events, not one body
        #expect(stats.generatedTokens > 0 && stats.promptTokens > 0)

        // The whole pipeline over the server.
        let folder = LocalLanguageModels.harbour()
        let kb = try folder.knowledgeBase(generator: LanguageModelGenerator(name: "openai", languageModel: chat))
        _ = try await kb.ingest(embed: false)
        let answer = try await kb.ask("What is the name of the lighthouse keeper of Port Ellis?")
        #expect(answer.generatedText?.contains("Marguerite Olsen") == true, "\(answer.generatedText ?? "")")
        #expect(answer.generator == GeneratorInfo(name: "openai", model: "smollm2"))
        withExtendedLifetime(server) {}
    }

    @Test func aServerThatIsDownIsOneClearError() async throws {
        let port = LlamaServerProcess.freePort()
        let chat = OpenAIChatModel(endpoint: ChatEndpoint(baseURL: "http://127.0.0.1:\(port)/v1", model: "m", timeout: 5))
        let error = await #expect(throws: KBError.self) {
            _ = try await chat.complete([ChatMessage(role: "user", content: "hi")], sampling: SamplingOptions()) { _ in true }
        }
        #expect(error?.code == .generation)
        #expect(error?.message.contains("Cannot reach the chat endpoint http://127.0.0.1:\(port)/v1/chat/completions") == true)
    }
}

@Suite struct ServerSentEventTests {
    @Test func eventsSplitAcrossWritesAreReassembled() async throws {
        let server = CannedHTTPServer(contentType: "text/event-stream", parts: [
            ": keep-alive comment\n\n",
            #"data: {"choices":[{"delta":{"role":"assistant","content":"Mar"}}]}"# + "\n\n",
            #"data:{"choices":[{"delta":{"content":"guerite "}}]}"# + "\r\n\r\n" + #"data: {"choices":[{"delta":{"con"#,
            #"tent":"Olsen [1]."},"finish_reason":"stop"}]}"# + "\n\n",
            #"data: {"choices":[],"usage":{"prompt_tokens":42,"completion_tokens":5}}"# + "\n\n",
            "data: [DONE]\n\n",
        ])
        let chat = OpenAIChatModel(endpoint: ChatEndpoint(baseURL: server.baseURL, model: "m", apiKey: "k", timeout: 5))
        let pieces = TextBox()
        let (text, stats) = try await chat.complete([ChatMessage(role: "user", content: "Who?")], sampling: SamplingOptions()) { piece in
            pieces.append(piece + "|")
            return true
        }
        #expect(text == "Marguerite Olsen [1].")
        #expect(pieces.value == "Mar|guerite |Olsen [1].|")
        #expect(stats.promptTokens == 42 && stats.generatedTokens == 5)
        #expect(stats.finishReason == "stop")
        #expect(server.request.hasPrefix("POST /v1/chat/completions"))
        #expect(server.request.contains(#""stream":true"#))
        #expect(server.request.lowercased().contains("authorization: bearer k"))
    }

    @Test func httpErrorsCarryTheServersMessage() async throws {
        let server = CannedHTTPServer(status: "404 Not Found", body: #"{"error":{"message":"model 'm' not found","type":"invalid_request_error"}}"#)
        let chat = OpenAIChatModel(endpoint: ChatEndpoint(baseURL: server.baseURL, model: "m", timeout: 5))
        let error = await #expect(throws: KBError.self) {
            _ = try await chat.complete([ChatMessage(role: "user", content: "hi")], sampling: SamplingOptions()) { _ in true }
        }
        #expect(error?.message.contains("HTTP 404: model 'm' not found") == true, "\(String(describing: error))")
        #expect(error?.message.contains("Check the base URL") == true)
    }

    @Test func aServerThatIgnoresStreamingStillAnswers() async throws {
        let server = CannedHTTPServer(body: #"{"choices":[{"message":{"role":"assistant","content":"Seven [2]."},"finish_reason":"stop"}],"usage":{"prompt_tokens":10,"completion_tokens":3}}"#)
        let chat = OpenAIChatModel(endpoint: ChatEndpoint(baseURL: server.baseURL, model: "m", timeout: 5))
        let (text, stats) = try await chat.complete([ChatMessage(role: "user", content: "When?")], sampling: SamplingOptions()) { _ in true }
        #expect(text == "Seven [2].")
        #expect(stats.generatedTokens == 3)
    }
}

