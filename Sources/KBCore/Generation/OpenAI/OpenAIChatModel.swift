import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// An OpenAI-compatible chat-completions server: llama.cpp's `llama-server`, Ollama, vLLM, LM Studio, OpenAI.
public struct ChatEndpoint: Sendable, Equatable {
    /// Base URL including the version path, for example `http://127.0.0.1:8080/v1`.
    public var baseURL: String
    /// The model name the server expects.
    public var model: String
    /// Sent as `Authorization: Bearer …` when set.
    public var apiKey: String?
    /// Seconds without data from the server before the request is abandoned.
    public var timeout: Double
    /// The model's context window, used to size the prompt (the server's tokenizer is not visible to kb).
    public var contextTokens: Int

    public init(baseURL: String, model: String, apiKey: String? = nil, timeout: Double = 120, contextTokens: Int = 4096) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.model = model
        self.apiKey = apiKey
        self.timeout = timeout
        self.contextTokens = contextTokens
    }
}

/// Chats through `POST {baseURL}/chat/completions` with `"stream": true`, reading the Server-Sent Events
/// as they arrive. One request per answer and no retries: a server that is down gets one clear error.
public struct OpenAIChatModel: LanguageModel {
    public let backend = "openai"
    public let endpoint: ChatEndpoint
    public var model: String { endpoint.model }
    public var contextTokens: Int { endpoint.contextTokens }
    public let templateOverheadTokens = 24

    public init(endpoint: ChatEndpoint) { self.endpoint = endpoint }

    /// An estimate: kb cannot see the server's tokenizer, so it counts generously.
    public func countTokens(_ text: String) -> Int { Int((Double(TokenEstimator.count(text)) * 1.25).rounded(.up)) }

    public func complete(_ messages: [ChatMessage], sampling: SamplingOptions,
                         onText: @escaping @Sendable (String) -> Bool) async throws(KBError) -> (text: String, stats: CompletionStats) {
        let urlString = endpoint.baseURL + "/chat/completions"
        guard let url = URL(string: urlString), url.scheme == "http" || url.scheme == "https" else {
            throw KBError(.configuration, "The chat endpoint \(endpoint.baseURL) is not an http(s) URL; set generation.endpoint or KB_GENERATION_ENDPOINT to something like http://127.0.0.1:8080/v1.")
        }
        var request = URLRequest(url: url, timeoutInterval: endpoint.timeout)
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.setValue("text/event-stream", forHTTPHeaderField: "Accept")
        // One request per session: nothing to keep alive, and a server shutting down need not wait for kb.
        request.setValue("close", forHTTPHeaderField: "Connection")
        if let key = endpoint.apiKey, !key.isEmpty { request.setValue("Bearer \(key)", forHTTPHeaderField: "Authorization") }
        var body: [String: Any] = [
            "model": endpoint.model,
            "messages": messages.map { ["role": $0.role, "content": $0.content] },
            "stream": true,
            "stream_options": ["include_usage": true],
            "max_tokens": sampling.maxTokens,
            "temperature": sampling.temperature,
            "seed": Int(sampling.seed),
        ]
        if sampling.temperature > 0 && sampling.topP < 1 { body["top_p"] = sampling.topP }
        request.httpBody = try? JSONSerialization.data(withJSONObject: body)

        let started = DispatchTime.now()
        func elapsed() -> Double { Double(DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1e9 }
        var stats = CompletionStats()
        var text = ""
        let events = ServerSentEvents.stream(request, timeout: endpoint.timeout)
        do {
            reading: for try await event in events {
                if event == "[DONE]" { break }
                guard let json = try? JSONSerialization.jsonObject(with: Data(event.utf8)) as? [String: Any] else {
                    throw KBError(.generation, "The chat endpoint \(urlString) sent an event that is not JSON: \(event.prefix(200))")
                }
                if let error = json["error"] as? [String: Any] {
                    throw KBError(.generation, "The chat endpoint \(urlString) reported an error: \(error["message"] ?? error)")
                }
                if let usage = json["usage"] as? [String: Any] {
                    stats.promptTokens = (usage["prompt_tokens"] as? Int) ?? stats.promptTokens
                    stats.generatedTokens = (usage["completion_tokens"] as? Int) ?? stats.generatedTokens
                }
                if let timings = json["timings"] as? [String: Any] {   // llama-server reports its own timings
                    if let ms = timings["prompt_ms"] as? Double { stats.promptSeconds = ms / 1000 }
                    if let rate = timings["predicted_per_second"] as? Double { stats.reportedTokensPerSecond = rate }
                }
                guard let choice = (json["choices"] as? [[String: Any]])?.first else { continue }
                if let reason = choice["finish_reason"] as? String { stats.finishReason = reason }
                let piece = ((choice["delta"] as? [String: Any])?["content"] as? String)
                    ?? ((choice["message"] as? [String: Any])?["content"] as? String) ?? ""
                guard !piece.isEmpty else { continue }
                if stats.firstTokenSeconds == nil { stats.firstTokenSeconds = elapsed() }
                text += piece
                if !onText(piece) { stats.finishReason = "cancelled"; break reading }
                if Task.isCancelled { stats.finishReason = "cancelled"; break reading }
            }
        } catch let error as KBError {
            throw error
        } catch let failure as ServerSentEvents.Failure {
            throw failure.kbError(url: urlString, timeout: endpoint.timeout)
        } catch {
            throw KBError(.generation, "The chat endpoint \(urlString) failed: \(error.localizedDescription)")
        }
        if stats.generatedTokens == 0 { stats.generatedTokens = countTokens(text) }
        if stats.promptTokens == 0 { stats.promptTokens = messages.reduce(templateOverheadTokens) { $0 + countTokens($1.content) } }
        if stats.firstTokenSeconds == nil { stats.firstTokenSeconds = elapsed() }
        stats.totalSeconds = elapsed()
        return (text, stats)
    }
}

/// Reads a `text/event-stream` response as it arrives (URLSession on Linux has no `bytes(for:)`): a
/// `URLSessionDataDelegate` splits the bytes into events and yields each event's data.
enum ServerSentEvents {
    /// Why a stream failed before or while events arrived.
    enum Failure: Error {
        case transport(URLError)
        case other(String)
        case http(status: Int, body: String)

        func kbError(url: String, timeout: Double) -> KBError {
            switch self {
            case .transport(let error) where error.code == .timedOut:
                return KBError(.generation, "The chat endpoint \(url) sent nothing for \(Int(timeout)) s; the server is overloaded or stuck (raise generation.timeout for slow models).")
            case .transport(let error):
                return KBError(.generation, "Cannot reach the chat endpoint \(url): \(error.localizedDescription). Is the server running? Start it, or use --generator llama or --generator extractive.")
            case .other(let message):
                return KBError(.generation, "The chat endpoint \(url) failed: \(message)")
            case .http(let status, let body):
                var message = body
                if let json = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any],
                   let error = json["error"] as? [String: Any], let text = error["message"] as? String { message = text }
                let hint = status == 401 || status == 403 ? " Check the API key (KB_GENERATION_API_KEY or OPENAI_API_KEY)."
                    : status == 404 ? " Check the base URL (it usually ends in /v1) and the model name." : ""
                return KBError(.generation, "The chat endpoint \(url) answered HTTP \(status): \(message.prefix(300)).\(hint)")
            }
        }
    }

    static func stream(_ request: URLRequest, timeout: Double) -> AsyncThrowingStream<String, any Error> {
        AsyncThrowingStream { continuation in
            let delegate = EventStreamDelegate(continuation: continuation)
            let configuration = URLSessionConfiguration.ephemeral
            configuration.timeoutIntervalForRequest = timeout
            configuration.timeoutIntervalForResource = max(timeout * 20, 600)
            let session = URLSession(configuration: configuration, delegate: delegate, delegateQueue: nil)
            let task = session.dataTask(with: request)
            continuation.onTermination = { _ in
                task.cancel()
                session.finishTasksAndInvalidate()
            }
            task.resume()
        }
    }
}

private final class EventStreamDelegate: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    private let continuation: AsyncThrowingStream<String, any Error>.Continuation
    private let lock = NSLock()
    private var status = 0
    private var buffer: [UInt8] = []
    private var dataLines: [String] = []
    private var errorBody: [UInt8] = []
    private var sawEvent = false
    /// The body as received, while no event has been seen (a server that ignores `"stream": true`).
    private var raw: [UInt8] = []

    init(continuation: AsyncThrowingStream<String, any Error>.Continuation) { self.continuation = continuation }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
                    completionHandler: @escaping @Sendable (URLSession.ResponseDisposition) -> Void) {
        lock.withLock { status = (response as? HTTPURLResponse)?.statusCode ?? 0 }
        completionHandler(.allow)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        lock.withLock {
            guard status == 200 else { errorBody.append(contentsOf: data.prefix(4096 - errorBody.count)); return }
            buffer.append(contentsOf: data)
            if !sawEvent && raw.count < 1 << 22 { raw.append(contentsOf: data) }
            while let newline = buffer.firstIndex(of: 0x0A) {
                var line = Array(buffer[..<newline])
                buffer.removeSubrange(...newline)
                if line.last == 0x0D { line.removeLast() }
                handle(line: String(decoding: line, as: UTF8.self))
            }
        }
    }

    /// One line of the event stream (https://html.spec.whatwg.org/multipage/server-sent-events.html).
    private func handle(line: String) {
        if line.isEmpty {
            if !dataLines.isEmpty {
                sawEvent = true
                continuation.yield(dataLines.joined(separator: "\n"))
                dataLines.removeAll()
            }
        } else if line.hasPrefix("data:") {
            var value = line.dropFirst(5)
            if value.first == " " { value = value.dropFirst() }
            dataLines.append(String(value))
        }
        // Comments (":"), "event:", "id:" and "retry:" lines carry nothing kb needs.
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: (any Error)?) {
        lock.withLock {
            if let error {
                if let urlError = error as? URLError {
                    continuation.finish(throwing: urlError.code == .cancelled ? nil : ServerSentEvents.Failure.transport(urlError))
                } else {
                    continuation.finish(throwing: ServerSentEvents.Failure.other(error.localizedDescription))
                }
                return
            }
            guard status == 200 else {
                continuation.finish(throwing: ServerSentEvents.Failure.http(status: status, body: String(decoding: errorBody, as: UTF8.self)))
                return
            }
            if !buffer.isEmpty { handle(line: String(decoding: buffer, as: UTF8.self)); buffer.removeAll() }
            if !dataLines.isEmpty { handle(line: "") }
            // A server that ignored "stream": a single JSON body is one event.
            if !sawEvent, let body = String(bytes: raw, encoding: .utf8),
               body.trimmingCharacters(in: .whitespacesAndNewlines).hasPrefix("{") { continuation.yield(body) }
            continuation.finish()
        }
    }
}
