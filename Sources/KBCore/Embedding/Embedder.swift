/// Whether text is embedded as a search query or as a stored passage (models such as e5 embed
/// them differently, with `query: ` / `passage: ` prefixes).
public enum EmbeddingKind: String, Sendable, CaseIterable, Codable {
    case query, passage
}

/// Vectors for a batch of texts.
public struct EmbeddingBatch: Sendable {
    /// One L2-normalised vector per input text, in order.
    public var vectors: [[Float]]
    /// How many of the texts were longer than the model's limit and were truncated.
    public var truncated: Int
}

/// Turns text into vectors for semantic search.
public protocol Embedder: Sendable {
    /// The model's name, stored with every vector it makes, for example `multilingual-e5-small`.
    var model: String { get }
    /// Vector length.
    var dimension: Int { get }
    /// Longest input, in the model's tokens (longer input is truncated and counted).
    var maxTokens: Int { get }
    /// Embeds texts; vectors are L2-normalised.
    func embed(_ texts: [String], kind: EmbeddingKind) throws(KBError) -> EmbeddingBatch
    /// Share of the text's tokens the model does not know (`[UNK]`); near 1 means the model is blind to it.
    func unknownTokenShare(_ text: String) -> Double
}

extension Embedder {
    public func unknownTokenShare(_ text: String) -> Double { 0 }
}

extension KBError.Code {
    /// A model folder or file is missing, damaged, or not what kb expects.
    public static let model = KBError.Code(name: "model_error")
    /// A remote embedding or generation endpoint failed.
    public static let endpoint = KBError.Code(name: "endpoint_error")
}
