import Foundation
import Testing
@testable import KBCore
import KBTestSupport

@Suite struct ChineseSearchTests {
    static func knowledgeBase() async throws -> (TemporaryFolder, KnowledgeBase) {
        let folder = TemporaryFolder()
        folder.write("docs/beijing.md", "# 北京\n\n北京是中华人民共和国的首都，也是全国的政治和文化中心。\n")
        folder.write("docs/shanghai.md", "# 上海\n\n上海是中国最大的经济中心和国际港口城市。\n")
        folder.write("docs/kb.md", "# Index\n\nkb 的索引把汉字按单字和双字写入 FTS5，所以短查询也能命中。\n")
        folder.write("docs/english.md", "# Search\n\nThe keyword index ranks passages with BM25 and stems English words.\n")
        folder.write("docs/noise.md", "# 杂项\n\n" + String(repeating: "中心城市的发展很重要。", count: 5) + "\n")
        let kb = try folder.knowledgeBase()
        _ = try await kb.ingest(embed: false)
        return (folder, kb)
    }

    @Test(arguments: [
        ("京", "beijing.md"),          // one character
        ("首都", "beijing.md"),        // two characters
        ("上海是", "shanghai.md"),     // three characters
        ("港口城市", "shanghai.md"),
        ("kb 的索引", "kb.md"),        // mixed Chinese and English
        ("FTS5 短查询", "kb.md"),
        ("ranking passages", "english.md"),   // stemming: ranking → rank
        ("BM25", "english.md"),
    ])
    func findsTheRightChunk(_ query: String, _ file: String) async throws {
        let (folder, kb) = try await Self.knowledgeBase()
        defer { withExtendedLifetime(folder) {} }
        let results = try await kb.search(query).results
        #expect(results.first.map { ($0.path as NSString).lastPathComponent } == file, "query \(query)")
    }

    @Test func rarerLongerMatchesRankFirst() async throws {
        let (folder, kb) = try await Self.knowledgeBase()
        defer { withExtendedLifetime(folder) {} }
        // 中心 appears in three files; the exact phrase 文化中心 only in one.
        let results = try await kb.search("文化中心").results
        #expect((results.first?.path as NSString?)?.lastPathComponent == "beijing.md")
        #expect(results.count >= 2)
    }

    @Test func hitsCarryCitationsAndHighlights() async throws {
        let (folder, kb) = try await Self.knowledgeBase()
        defer { withExtendedLifetime(folder) {} }
        let hit = try await #require(try kb.search("首都").results.first)
        #expect(hit.heading == "北京")
        #expect(hit.startLine == 3 && hit.endLine == 3)
        let snippet = Array(hit.snippet.unicodeScalars)
        let spans = hit.highlights.map { String(String.UnicodeScalarView(snippet[$0[0]..<$0[1]])) }
        #expect(spans == ["首都"])
    }

    @Test func noMatchGivesNoResults() async throws {
        let (folder, kb) = try await Self.knowledgeBase()
        defer { withExtendedLifetime(folder) {} }
        await #expect(try kb.search("火星").results.isEmpty)
        await #expect(try kb.search("zebra").results.isEmpty)
    }
}

@Suite struct AskTests {
    @Test func extractiveAnswerCitesItsSources() async throws {
        let folder = TemporaryFolder()
        folder.write("docs/guide.md", """
            # Guide

            ## Ingest

            To ingest a folder, run kb ingest with the folder path. Hidden files are skipped.

            ## Search

            Use kb search to find passages by keyword.
            """)
        let kb = try folder.knowledgeBase()
        _ = try await kb.ingest(embed: false)
        let answer = try await kb.ask("How do I ingest a folder?")
        #expect(!answer.abstained)
        #expect(answer.answer.hasPrefix("To ingest a folder, run kb ingest with the folder path [1]."))
        #expect(answer.citations.first?.heading == "Guide > Ingest")
        #expect(answer.citations.first?.startLine == 5)

        let unknown = try await kb.ask("What is the capital of Mars?")
        #expect(unknown.abstained)
        #expect(unknown.citations.isEmpty)
    }

    @Test func chineseQuestion() async throws {
        let folder = TemporaryFolder()
        folder.write("docs/zh.md", "# 导入\n\n要导入一个文件夹，运行 kb ingest 路径。隐藏文件会被跳过。\n\n# 搜索\n\n搜索使用 BM25 排序。\n")
        let kb = try folder.knowledgeBase()
        _ = try await kb.ingest(embed: false)
        let answer = try await kb.ask("怎么导入文件夹？")
        #expect(!answer.abstained)
        #expect(answer.answer.hasPrefix("要导入一个文件夹，运行 kb ingest 路径[1]。"))
        #expect(answer.language == "zh")
    }
}
