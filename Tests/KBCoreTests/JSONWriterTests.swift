import Foundation
import Testing
@testable import KBCore

/// The daemon writes search responses with ``JSONWriter``; its bytes must be exactly `JSONEncoder`'s.
@Suite struct JSONWriterTests {
    static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    static func hit(_ rank: Int, text: String, title: String?, page: Int?, explanation: RetrievalExplanation?, score: Double) -> SearchHit {
        SearchHit(rank: rank, score: score, path: "/kb/docs/a b/文件 \(rank).md", chunkID: String(rank * 7), documentID: rank,
                  title: title, heading: "Guide > 安装 / \"setup\"", startLine: rank, endLine: rank + 3, page: page, text: text,
                  snippet: "…" + String(text.prefix(20)) + "…", highlights: [[0, 3], [5, 9]], matchedTerms: ["instal", "安装", "北京"],
                  explanation: explanation)
    }

    @Test func bytesEqualJSONEncoders() async throws {
        let texts = ["Plain text.", "Quotes \" and backslashes \\ and /slashes/", "Line\nbreaks\r\nand\ttabs\u{08}\u{0C}",
                     "Control \u{01}\u{1F}\u{7F} and NUL \u{0}", "中文，全角！ and emoji 🧪 and U+2028 \u{2028}", "", "é à ü ß"]
        let scores: [Double] = [0, 1, -1, 0.1, 15.415591196373754, 1e-7, 1e21, 123456789.125, 2.5e-300, 0.30000000000000004]
        var responses: [SearchResponse] = []
        for (i, text) in texts.enumerated() {
            let explanations: [RetrievalExplanation?] = [
                nil, RetrievalExplanation(keywordRank: 1, keywordScore: scores[i % scores.count]),
                RetrievalExplanation(keywordRank: 2, keywordScore: 3.5, vectorRank: 1, vectorScore: 0.8123, fusedScore: 0.0476),
                RetrievalExplanation(vectorRank: 4, vectorScore: 0.5, keywordCoverage: 0.25, keywordWeight: 0.5, vectorWeight: 1),
            ]
            let hits = (0..<4).map { j in
                Self.hit(j + 1, text: text, title: j % 2 == 0 ? "Title \(text)" : nil, page: j == 3 ? 12 : nil,
                         explanation: explanations[j], score: scores[(i + j) % scores.count])
            }
            responses.append(SearchResponse(query: "query \(text)", language: i % 2 == 0 ? "en" : "zh", mode: "hybrid",
                                            results: hits, seconds: scores[i % scores.count], warnings: i % 3 == 0 ? [] : ["Searched by keywords only: \(text)"]))
        }
        responses.append(SearchResponse(query: "", language: "und", mode: "keyword", results: [], seconds: 0, warnings: []))
        for response in responses {
            let expected = try Self.encoder().encode(response)
            let written = JSONWriter.encode(response)
            #expect(String(decoding: written, as: UTF8.self) == String(decoding: expected, as: UTF8.self))
            #expect(try JSONDecoder().decode(SearchResponse.self, from: Data(written)) == response)
        }
    }
}
