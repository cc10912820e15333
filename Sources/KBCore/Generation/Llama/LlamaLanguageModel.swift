import CLlama
import Foundation

/// A GGUF chat model run in process by llama.cpp (`libllama`).
///
/// Loaded once per process (the weights are memory-mapped); one completion runs at a time, on its own
/// thread so that the caller's concurrency pool is never blocked. The prompt is written with the
/// model's own chat template from the GGUF, fed in batches of at most `n_batch` tokens, and the
/// key-value cache of the previous prompt is reused for the prefix the next prompt shares with it (kb's
/// system prompt), the way `llama-server` caches prompts.
public final class LlamaLanguageModel: LanguageModel, @unchecked Sendable {
    public let backend = "llama.cpp"
    public let model: String
    public let contextTokens: Int
    public let templateOverheadTokens: Int
    /// Threads for generation and for prompt processing.
    public let threads: Int

    private let handle: OpaquePointer
    private let context: OpaquePointer
    private let vocab: OpaquePointer
    private let chatTemplate: String?
    private let batchSize: Int
    private let lock = NSLock()
    /// Tokens whose keys and values are in the context's cache, in order.
    private var cachedTokens: [llama_token] = []
    /// The running completion's cancellation flag, read by llama.cpp's abort callback during long decodes.
    private let current = CurrentCall()

    /// Loads a GGUF model.
    /// - Parameters:
    ///   - path: the `.gguf` file.
    ///   - name: the name reported with answers.
    ///   - contextTokens: the context window to allocate, capped at what the model was trained with.
    ///   - threads: CPU threads.
    public init(path: String, name: String, contextTokens: Int = 4096, threads: Int = 1, batchSize: Int = 512) throws(KBError) {
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw KBError(.model, "The language model \(path) is missing. Run scripts/setup.sh to fetch it, or choose another with --model.")
        }
        LlamaBackend.initialize()
        var modelParams = llama_model_default_params()
        modelParams.n_gpu_layers = 0
        guard let handle = llama_model_load_from_file(path, modelParams) else {
            throw KBError(.model, "llama.cpp could not load \(path): it is not a GGUF model this version reads, or it is damaged. Run scripts/setup.sh again to re-fetch it.")
        }
        let trained = Int(llama_model_n_ctx_train(handle))
        let context = max(512, min(contextTokens, trained > 0 ? trained : contextTokens))
        var contextParams = llama_context_default_params()
        contextParams.n_ctx = UInt32(context)
        contextParams.n_batch = UInt32(batchSize)
        contextParams.n_ubatch = UInt32(batchSize)
        contextParams.n_seq_max = 1
        contextParams.n_threads = Int32(max(1, threads))
        contextParams.n_threads_batch = Int32(max(1, threads))
        contextParams.no_perf = true
        contextParams.abort_callback = { data in
            guard let data else { return false }
            return Unmanaged<CurrentCall>.fromOpaque(data).takeUnretainedValue().isCancelled
        }
        contextParams.abort_callback_data = Unmanaged.passUnretained(current).toOpaque()
        guard let llamaContext = llama_init_from_model(handle, contextParams) else {
            llama_model_free(handle)
            throw KBError(.model, "llama.cpp could not create a context of \(context) tokens for \(path); lower generation.context.")
        }
        self.handle = handle
        self.context = llamaContext
        self.vocab = llama_model_get_vocab(handle)
        self.model = name
        self.contextTokens = Int(llama_n_ctx(llamaContext))
        self.threads = max(1, threads)
        self.batchSize = Int(llama_n_batch(llamaContext))
        self.chatTemplate = llama_model_chat_template(handle, nil).map { String(cString: $0) }
        // The template's own tokens: measure an empty exchange.
        let probe = (try? Self.applyTemplate(chatTemplate, [ChatMessage(role: "system", content: ""), ChatMessage(role: "user", content: "")]))
        self.templateOverheadTokens = probe.map { Self.tokenize(vocab: llama_model_get_vocab(handle), $0, special: true).count } ?? 32
    }

    deinit {
        llama_free(context)
        llama_model_free(handle)
    }

    public func countTokens(_ text: String) -> Int {
        Self.tokenize(vocab: vocab, text, special: false).count
    }

    /// The prompt the model reads for `messages`, written with the GGUF's chat template.
    public func prompt(for messages: [ChatMessage]) throws(KBError) -> String {
        try Self.applyTemplate(chatTemplate, messages)
    }

    public func complete(_ messages: [ChatMessage], sampling: SamplingOptions,
                         onText: @escaping @Sendable (String) -> Bool) async throws(KBError) -> (text: String, stats: CompletionStats) {
        let prompt = try self.prompt(for: messages)
        let cancelled = AbortFlag()
        let result: Result<(String, CompletionStats), KBError> = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let thread = Thread { [self] in
                    continuation.resume(returning: Result { () throws(KBError) -> (String, CompletionStats) in
                        try self.run(prompt: prompt, sampling: sampling, cancelled: cancelled, onText: onText)
                    })
                }
                thread.stackSize = 8 << 20
                thread.start()
            }
        } onCancel: {
            cancelled.set()
        }
        return try result.get()
    }

    private func run(prompt: String, sampling: SamplingOptions, cancelled: AbortFlag,
                     onText: @Sendable (String) -> Bool) throws(KBError) -> (String, CompletionStats) {
        lock.lock()
        current.flag = cancelled
        defer {
            current.flag = nil
            lock.unlock()
        }
        let started = DispatchTime.now()
        func elapsed() -> Double { Double(DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1e9 }
        var stats = CompletionStats()

        let tokens = Self.tokenize(vocab: vocab, prompt, special: true, addBOS: true)
        stats.promptTokens = tokens.count
        guard tokens.count + 1 < contextTokens else {
            throw KBError(.generation, "The prompt has \(tokens.count) tokens but the model's context holds \(contextTokens); ask with fewer passages (-k) or raise generation.context.")
        }
        let budget = min(sampling.maxTokens, contextTokens - tokens.count - 1)

        // Reuse the cached prefix; at least one token must be decoded to get logits.
        var common = zip(cachedTokens, tokens).prefix { $0 == $1 }.count
        if common == tokens.count { common -= 1 }
        let memory = llama_get_memory(context)
        if !llama_memory_seq_rm(memory, 0, Int32(common), -1) {
            llama_memory_clear(memory, true)
            common = 0
        }
        cachedTokens = Array(tokens[..<common])

        var pending = Array(tokens[common...])
        var offset = 0
        while offset < pending.count {
            let count = min(batchSize, pending.count - offset)
            let status = pending.withUnsafeMutableBufferPointer { buffer in
                llama_decode(context, llama_batch_get_one(buffer.baseAddress! + offset, Int32(count)))
            }
            guard status == 0 else { return try failed(status, cancelled: cancelled, stats: &stats, elapsed: elapsed()) }
            cachedTokens.append(contentsOf: pending[offset..<(offset + count)])
            offset += count
        }
        pending.removeAll()
        stats.promptSeconds = elapsed()

        let sampler = Self.makeSampler(sampling)
        defer { llama_sampler_free(sampler) }
        var text = ""
        var utf8 = UTF8Accumulator()
        var piece = [CChar](repeating: 0, count: 256)
        stats.finishReason = "length"
        var stopped = false
        while stats.generatedTokens < budget {
            if cancelled.isSet { stats.finishReason = "cancelled"; break }
            var token = llama_sampler_sample(sampler, context, -1)
            if llama_vocab_is_eog(vocab, token) { stats.finishReason = "stop"; break }
            stats.generatedTokens += 1
            var length = llama_token_to_piece(vocab, token, &piece, Int32(piece.count), 0, false)
            if length < 0 {
                piece = [CChar](repeating: 0, count: Int(-length))
                length = llama_token_to_piece(vocab, token, &piece, Int32(piece.count), 0, false)
            }
            let fresh = utf8.append(piece[0..<Int(max(0, length))].map { UInt8(bitPattern: $0) })
            if !fresh.isEmpty {
                if stats.firstTokenSeconds == nil { stats.firstTokenSeconds = elapsed() }
                text += fresh
                if !onText(fresh) { stats.finishReason = "cancelled"; stopped = true }
            }
            if stopped { break }
            let status = llama_decode(context, llama_batch_get_one(&token, 1))
            guard status == 0 else { return try failed(status, cancelled: cancelled, stats: &stats, elapsed: elapsed(), text: text) }
            cachedTokens.append(token)
        }
        let rest = utf8.flush()
        if !rest.isEmpty {
            text += rest
            _ = onText(rest)
        }
        if stats.firstTokenSeconds == nil { stats.firstTokenSeconds = elapsed() }
        stats.totalSeconds = elapsed()
        return (text, stats)
    }

    /// A decode failure: cancelled (the abort callback fired), or a real error. Either way the cache is reset.
    private func failed(_ status: Int32, cancelled: AbortFlag, stats: inout CompletionStats, elapsed: Double,
                        text: String = "") throws(KBError) -> (String, CompletionStats) {
        llama_memory_clear(llama_get_memory(context), true)
        cachedTokens = []
        if cancelled.isSet {
            stats.finishReason = "cancelled"
            stats.totalSeconds = elapsed
            return (text, stats)
        }
        throw KBError(.generation, "llama.cpp failed to evaluate the prompt (status \(status)); try fewer passages (-k) or a larger generation.context.")
    }

    private static func makeSampler(_ sampling: SamplingOptions) -> UnsafeMutablePointer<llama_sampler> {
        let chain = llama_sampler_chain_init(llama_sampler_chain_default_params())!
        if sampling.temperature <= 0 {
            llama_sampler_chain_add(chain, llama_sampler_init_greedy())
        } else {
            if sampling.topK > 0 { llama_sampler_chain_add(chain, llama_sampler_init_top_k(Int32(sampling.topK))) }
            if sampling.topP < 1 { llama_sampler_chain_add(chain, llama_sampler_init_top_p(Float(sampling.topP), 1)) }
            llama_sampler_chain_add(chain, llama_sampler_init_temp(Float(sampling.temperature)))
            llama_sampler_chain_add(chain, llama_sampler_init_dist(sampling.seed))
        }
        return chain
    }

    static func tokenize(vocab: OpaquePointer, _ text: String, special: Bool, addBOS: Bool = false) -> [llama_token] {
        let utf8 = Array(text.utf8CString.dropLast())
        var tokens = [llama_token](repeating: 0, count: utf8.count + 8)
        var count = llama_tokenize(vocab, utf8, Int32(utf8.count), &tokens, Int32(tokens.count), addBOS, special)
        if count < 0 {
            tokens = [llama_token](repeating: 0, count: Int(-count))
            count = llama_tokenize(vocab, utf8, Int32(utf8.count), &tokens, Int32(tokens.count), addBOS, special)
        }
        return Array(tokens.prefix(Int(max(0, count))))
    }

    static func applyTemplate(_ template: String?, _ messages: [ChatMessage]) throws(KBError) -> String {
        var strings: [UnsafeMutablePointer<CChar>] = []
        defer { strings.forEach { free($0) } }
        var chat: [llama_chat_message] = []
        for message in messages {
            let role = strdup(message.role)!, content = strdup(message.content)!
            strings += [role, content]
            chat.append(llama_chat_message(role: role, content: content))
        }
        var buffer = [CChar](repeating: 0, count: 4096 + messages.reduce(0) { $0 + $1.content.utf8.count * 2 })
        var length = llama_chat_apply_template(template, chat, chat.count, true, &buffer, Int32(buffer.count))
        if length > Int32(buffer.count) {
            buffer = [CChar](repeating: 0, count: Int(length) + 1)
            length = llama_chat_apply_template(template, chat, chat.count, true, &buffer, Int32(buffer.count))
        }
        guard length >= 0 else {
            throw KBError(.model, "llama.cpp does not know this model's chat template; use a GGUF whose template llama.cpp supports.")
        }
        return String(decoding: buffer[0..<Int(length)].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// A flag set from one thread (a cancelled task, the abort callback's owner) and read from another.
final class AbortFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.withLock { value } }
    func set() { lock.withLock { value = true } }
}

/// The flag of the completion that holds the context, if any.
final class CurrentCall: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: AbortFlag?
    var flag: AbortFlag? {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
    var isCancelled: Bool { flag?.isSet ?? false }
}

/// llama.cpp's process-wide set-up: the backend, and its log routed away from kb's output.
enum LlamaBackend {
    private static let once: Void = {
        llama_backend_init()
        if ProcessInfo.processInfo.environment["KB_LLAMA_LOG"] == nil {
            llama_log_set({ _, _, _ in }, nil)
        } else {
            llama_log_set({ _, text, _ in
                if let text { FileHandle.standardError.write(Data(String(cString: text).utf8)) }
            }, nil)
        }
    }()

    static func initialize() { _ = once }
}
