import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// An OpenAI-compatible embeddings endpoint (llama.cpp's `llama-server --embeddings`, Ollama, OpenAI).
public struct EmbeddingEndpoint: Sendable, Equatable {
    /// Base URL including the version path, for example `http://127.0.0.1:8080/v1`.
    public var baseURL: String
    /// The model name the server expects.
    public var model: String
    /// Sent as `Authorization: Bearer …` when set.
    public var apiKey: String?
    /// Seconds before a request is abandoned.
    public var timeout: Double

    public init(baseURL: String, model: String, apiKey: String? = nil, timeout: Double = 60) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.model = model
        self.apiKey = apiKey
        self.timeout = timeout
    }
}

/// Embeds through `POST {baseURL}/embeddings`. One request per batch of up to 64 texts, no retries
/// (a failing server gets one clear error, not a storm of requests).
public final class OpenAIEmbedder: Embedder {
    public let endpoint: EmbeddingEndpoint
    public var model: String { "endpoint:" + endpoint.model }
    public let maxTokens = 8192
    private let dimensionBox = DimensionBox()
    public var dimension: Int { dimensionBox.value ?? 0 }

    public init(endpoint: EmbeddingEndpoint) { self.endpoint = endpoint }

    public func embed(_ texts: [String], kind: EmbeddingKind) throws(KBError) -> EmbeddingBatch {
        var vectors: [[Float]] = []
        var start = 0
        while start < texts.count {
            let batch = Array(texts[start..<min(start + 64, texts.count)])
            vectors += try request(batch)
            start += 64
        }
        return EmbeddingBatch(vectors: vectors, truncated: 0)
    }

    private func request(_ texts: [String]) throws(KBError) -> [[Float]] {
        let urlString = endpoint.baseURL + "/embeddings"
        guard let url = URL(string: urlString), url.scheme == "http" || url.scheme == "https" else {
            throw KBError(.configuration, "The embedding endpoint \(endpoint.baseURL) is not an http(s) URL.")
        }
        var request = URLRequest(url: url, timeoutInterval: endpoint.timeout)
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        if let key = endpoint.apiKey, !key.isEmpty { request.setValue("Bearer \(key)", forHTTPHeaderField: "Authorization") }
        request.httpBody = try? JSONSerialization.data(withJSONObject: ["model": endpoint.model, "input": texts])

        let (data, response, error) = HTTPExchange.send(request)
        if let error {
            throw KBError(.endpoint, "Cannot reach the embedding endpoint \(urlString): \(error.localizedDescription). Is the server running?")
        }
        guard let http = response as? HTTPURLResponse else {
            throw KBError(.endpoint, "The embedding endpoint \(urlString) sent no HTTP response.")
        }
        guard http.statusCode == 200 else {
            let body = String(decoding: (data ?? Data()).prefix(300), as: UTF8.self)
            throw KBError(.endpoint, "The embedding endpoint \(urlString) answered HTTP \(http.statusCode): \(body)")
        }
        guard let data, let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let items = json["data"] as? [[String: Any]], items.count == texts.count else {
            throw KBError(.endpoint, "The embedding endpoint \(urlString) returned an unexpected response (expected {\"data\":[{\"embedding\":[…]}]} with \(texts.count) items).")
        }
        var vectors = [[Float]](repeating: [], count: texts.count)
        for (position, item) in items.enumerated() {
            guard let values = item["embedding"] as? [NSNumber], !values.isEmpty else {
                throw KBError(.endpoint, "The embedding endpoint \(urlString) returned an item without an embedding.")
            }
            let index = (item["index"] as? Int) ?? position
            guard index >= 0 && index < texts.count else { throw KBError(.endpoint, "The embedding endpoint \(urlString) returned index \(index) for \(texts.count) inputs.") }
            var vector = values.map { $0.floatValue }
            if let expected = dimensionBox.value, expected != vector.count {
                throw KBError(.endpoint, "The embedding endpoint \(urlString) returned \(vector.count) dimensions after \(expected).")
            }
            dimensionBox.value = vector.count
            Kernels.l2Normalize(&vector)
            vectors[index] = vector
        }
        return vectors
    }
}

private final class DimensionBox: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Int?
    var value: Int? {
        get { lock.lock(); defer { lock.unlock() }; return stored }
        set { lock.lock(); stored = newValue; lock.unlock() }
    }
}

/// One blocking HTTP exchange over URLSession (kb's embedding calls are synchronous).
enum HTTPExchange {
    static func send(_ request: URLRequest) -> (Data?, URLResponse?, (any Error)?) {
        let box = ExchangeBox()
        let semaphore = DispatchSemaphore(value: 0)
        let task = URLSession.shared.dataTask(with: request) { data, response, error in
            box.set(data, response, error)
            semaphore.signal()
        }
        task.resume()
        semaphore.wait()
        return box.get()
    }
}

private final class ExchangeBox: @unchecked Sendable {
    private let lock = NSLock()
    private var result: (Data?, URLResponse?, (any Error)?) = (nil, nil, nil)
    func set(_ data: Data?, _ response: URLResponse?, _ error: (any Error)?) { lock.lock(); result = (data, response, error); lock.unlock() }
    func get() -> (Data?, URLResponse?, (any Error)?) { lock.lock(); defer { lock.unlock() }; return result }
}
