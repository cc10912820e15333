// Placeholder until the packed-format loader lands: reports the model as unavailable.
enum E5PackedLoader {
    static func load(file: String) throws(KBError) -> (EncoderWeights, WordPieceTokenizer) {
        throw KBError(.model, "multilingual-e5-small is not supported by this build yet.")
    }
}
