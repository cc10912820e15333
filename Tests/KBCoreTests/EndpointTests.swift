import Foundation
import Testing
@testable import KBCore
import KBTestSupport
#if canImport(Glibc)
import Glibc
#endif

@Suite(.serialized) struct EmbeddingEndpointTests {
    @Test func embedsThroughAnOpenAICompatibleServer() async throws {
        let server = CannedHTTPServer(body: #"{"object":"list","data":[{"object":"embedding","index":1,"embedding":[0,3,4]},{"object":"embedding","index":0,"embedding":[1,0,0]}],"model":"m"}"#)
        let embedder = OpenAIEmbedder(endpoint: EmbeddingEndpoint(baseURL: server.baseURL, model: "nomic", apiKey: "secret", timeout: 5))
        let batch = try embedder.embed(["first", "second"], kind: .passage)
        #expect(batch.vectors[0] == [1, 0, 0])
        #expect(batch.vectors[1] == [0, 0.6, 0.8])   // normalised, placed by index
        #expect(embedder.model == "endpoint:nomic")
        #expect(embedder.dimension == 3)
        #expect(server.request.hasPrefix("POST /v1/embeddings HTTP/1.1"))
        #expect(server.request.lowercased().contains("authorization: bearer secret"))
        #expect(server.request.contains(#""model":"nomic""#))
    }

    @Test func aServerThatIsDownNamesTheURL() async throws {
        // A port nobody listens on (discard, 9).
        let closed = OpenAIEmbedder(endpoint: EmbeddingEndpoint(baseURL: "http://127.0.0.1:9/v1", model: "m", timeout: 5))
        let error = await expectKBError(.endpoint) { try closed.embed(["x"], kind: .query) }
        #expect(error?.message.hasPrefix("Cannot reach the embedding endpoint http://127.0.0.1:9/v1/embeddings") == true)
        #expect(error?.message.hasSuffix("Is the server running?") == true)
    }

    @Test func garbageAndErrorsAreReported() async throws {
        let garbage = CannedHTTPServer(body: "<html>not json</html>")
        let error = await expectKBError(.endpoint) {
            try OpenAIEmbedder(endpoint: EmbeddingEndpoint(baseURL: garbage.baseURL, model: "m", timeout: 5)).embed(["x"], kind: .query)
        }
        #expect(error?.message.contains("returned an unexpected response") == true)
        let failing = CannedHTTPServer(status: "500 Internal Server Error", body: #"{"error":"model not loaded"}"#)
        let status = await expectKBError(.endpoint) {
            try OpenAIEmbedder(endpoint: EmbeddingEndpoint(baseURL: failing.baseURL, model: "m", timeout: 5)).embed(["x"], kind: .query)
        }
        #expect(status?.message.contains("answered HTTP 500: {\"error\":\"model not loaded\"}") == true)
    }
}
