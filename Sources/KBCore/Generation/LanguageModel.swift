import Foundation

/// One message of a chat: `system`, `user` or `assistant`.
public struct ChatMessage: Sendable, Equatable, Codable {
    public var role: String
    public var content: String
    public init(role: String, content: String) {
        self.role = role
        self.content = content
    }
}

/// How the next token is chosen. Temperature 0 is greedy decoding (repeatable).
public struct SamplingOptions: Sendable, Equatable {
    public var temperature: Double = 0
    public var topK: Int = 40
    public var topP: Double = 0.95
    public var seed: UInt32 = 42
    /// Generation stops after this many tokens.
    public var maxTokens: Int = 256
    public init(temperature: Double = 0, topK: Int = 40, topP: Double = 0.95, seed: UInt32 = 42, maxTokens: Int = 256) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.seed = seed
        self.maxTokens = maxTokens
    }
}

/// What a language model did for one completion.
public struct CompletionStats: Sendable, Equatable {
    /// Tokens in the prompt and tokens generated.
    public var promptTokens = 0
    public var generatedTokens = 0
    /// Seconds to read the prompt (prompt processing), to the first generated text, and in total.
    public var promptSeconds = 0.0
    public var firstTokenSeconds: Double?
    public var totalSeconds = 0.0
    /// Why generation stopped: `stop` (end of generation), `length` (token limit) or `cancelled`.
    public var finishReason = "stop"
    /// Generation speed as the backend measured it itself, when it says (llama-server's `timings`).
    public var reportedTokensPerSecond: Double?
    public init() {}

    /// Generated tokens per second, after the first token.
    public var tokensPerSecond: Double? {
        guard generatedTokens > 1, let first = firstTokenSeconds, totalSeconds > first else { return nil }
        return Double(generatedTokens - 1) / (totalSeconds - first)
    }
}

/// A chat language model: kb's in-process llama.cpp model or an OpenAI-compatible server.
public protocol LanguageModel: Sendable {
    /// The backend, for example `llama.cpp` or `openai`.
    var backend: String { get }
    /// The model's name, for example `qwen2.5-coder-0.5b-instruct`.
    var model: String { get }
    /// Tokens the model can attend to: prompt plus answer.
    var contextTokens: Int { get }
    /// Tokens `text` takes in this model's vocabulary (an estimate when the tokenizer is remote).
    func countTokens(_ text: String) -> Int
    /// Tokens the chat template adds around `messages` (role markers and the like).
    var templateOverheadTokens: Int { get }
    /// Completes a chat, calling `onText` with each piece of text as it is produced. Returning false from
    /// `onText`, or cancelling the task, stops generation early.
    func complete(_ messages: [ChatMessage], sampling: SamplingOptions,
                  onText: @escaping @Sendable (String) -> Bool) async throws(KBError) -> (text: String, stats: CompletionStats)
}

extension KBError.Code {
    /// The language model could not run: the library, the model file or the server.
    public static let generation = KBError.Code(name: "generation_error")
}

/// Collects UTF-8 bytes that arrive in arbitrary pieces and hands out complete characters only.
struct UTF8Accumulator {
    private var pending: [UInt8] = []

    /// Appends bytes and returns the text that is now complete.
    mutating func append(_ bytes: some Sequence<UInt8>) -> String {
        pending.append(contentsOf: bytes)
        // Keep back an incomplete sequence at the end (at most 3 bytes).
        var cut = pending.count
        var back = 0
        while back < min(3, pending.count) {
            let byte = pending[pending.count - 1 - back]
            if byte & 0xC0 == 0x80 { back += 1; continue }   // continuation byte
            if byte >= 0xC0 {
                let needed = byte >= 0xF0 ? 4 : byte >= 0xE0 ? 3 : 2
                if back + 1 < needed { cut = pending.count - 1 - back }
            }
            break
        }
        let text = String(decoding: pending[..<cut], as: UTF8.self)
        pending.removeFirst(cut)
        return text
    }

    /// Whatever is left, with invalid bytes replaced.
    mutating func flush() -> String {
        defer { pending.removeAll() }
        return String(decoding: pending, as: UTF8.self)
    }
}
