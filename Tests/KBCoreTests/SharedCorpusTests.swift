import Foundation
import Testing
@testable import KBCore
import KBTestSupport

/// Ingests `../shared/data/docs` when it is present: every file is ingested or reported with a specific reason.
@Suite struct SharedCorpusTests {
    @Test(.enabled(if: Fixtures.shared != nil, "../shared/data/docs is not present"))
    func everyFileIsIngestedOrReported() async throws {
        let docs = Fixtures.shared! + "/data/docs"
        let folder = TemporaryFolder()
        let kb = try KnowledgeBase(configuration: Configuration(databasePath: folder.path + "/kb.sqlite"), create: true)
        let summary = try await kb.ingest(paths: [docs], embed: false)
        let files = FileManager.default.enumerator(atPath: docs)!.compactMap { $0 as? String }
            .filter { !(docs + "/" + $0).isDirectory }
        let reported = Set(summary.failed.map(\.path) + summary.skipped.map(\.path))
        #expect(summary.added + reported.count == files.count)
        for failure in summary.failed { #expect(!failure.error.isEmpty) }
        let reasons = Dictionary(uniqueKeysWithValues: summary.failed.map { (($0.path as NSString).lastPathComponent, $0.error) })
        let ocr = OCREngine.tool != nil
        #expect(reasons.count == (ocr ? 3 : 4), "\(reasons)")
        #expect(reasons["binary_png_renamed.txt"] == "binary content (PNG image) under a text file extension")
        #expect(reasons["encrypted_password.pdf"] == "encrypted (the PDF needs a password)")
        if !ocr { #expect(reasons["scanned_linn_image_only.pdf"] == "tesseract (Debian's tesseract-ocr) is not installed; run scripts/setup.sh") }
        #expect(reasons["invalid_header_only.pdf"]?.hasPrefix("damaged: ") == true)
        for skip in summary.skipped where skip.path.hasSuffix(".docx") || skip.path.hasSuffix(".epub") {
            #expect(skip.reason.hasPrefix("unsupported file type"))
        }
        // Known phrases from each family are searchable.
        for (query, file) in [("Mozilla Foundation", "wikipedia_mozilla_source.html"), ("Sudan sanctions", "nytimes_source.html"),
                              ("DeepMind", "qq_zh_source.html"), ("SNB22", "steel_datasheet_utf16.html"),
                              ("维基大典", ""), ("維基大典", "zh_tw_big5.txt"), ("Doylestown", "utf16_bom.txt"),
                              ("空调", "zh_utf8_gb50736_standard.txt"), ("Washington", "factbook.xml"),
                              ("Kaffee", "fake_html_cp1252.html"), ("können", "umlauts_latin1.md"),
                              ("LayoutParser toolkit", "layout_parser_paper_2p.pdf"), ("常见问题集", "ctex_faq_zh.pdf"),
                              ("standing trustee", "handbook_1p.docx"), ("Nested Table", "docx_tables.docx"),
                              ("Winter Sports in Switzerland", "winter_sports_gutenberg.epub"),
                              // The scanned PDF, read by OCR.
                              ("LinnSequencer polyphonic tracks", ocr ? "scanned_linn_image_only.pdf" : "")] where !file.isEmpty {
            let top = try await kb.search(query, limit: 3).results.map { ($0.path as NSString).lastPathComponent }
            #expect(top.contains(file), "\(query) should find \(file), got \(top)")
        }
        // PDF passages carry their page.
        let pdfHit = try await #require(try kb.search("LayoutParser", limit: 5).results.first { $0.path.hasSuffix(".pdf") })
        #expect(pdfHit.page != nil)
        await #expect(try kb.consistencyProblems().isEmpty)
    }
}

extension String {
    var isDirectory: Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: self, isDirectory: &isDirectory) && isDirectory.boolValue
    }
}
