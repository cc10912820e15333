import Foundation
import Testing
@testable import KBCore
import KBTestSupport

/// Builds a small, valid PDF with one text line per page (Helvetica, ASCII).
func makePDF(pages: [String]) -> Data {
    var objects: [String] = []
    let pageCount = pages.count
    // 1: catalog, 2: pages, 3: font, then per page: page object and content stream.
    objects.append("<< /Type /Catalog /Pages 2 0 R >>")
    let kids = (0..<pageCount).map { "\(4 + 2 * $0) 0 R" }.joined(separator: " ")
    objects.append("<< /Type /Pages /Kids [\(kids)] /Count \(pageCount) >>")
    objects.append("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    for (index, text) in pages.enumerated() {
        objects.append("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents \(5 + 2 * index) 0 R >>")
        let stream = "BT /F1 12 Tf 72 720 Td (\(text)) Tj ET"
        objects.append("<< /Length \(stream.utf8.count) >>\nstream\n\(stream)\nendstream")
    }
    var body = "%PDF-1.4\n"
    var offsets: [Int] = []
    for (index, object) in objects.enumerated() {
        offsets.append(body.utf8.count)
        body += "\(index + 1) 0 obj\n\(object)\nendobj\n"
    }
    let xref = body.utf8.count
    body += "xref\n0 \(objects.count + 1)\n0000000000 65535 f \n"
    for offset in offsets { body += String(format: "%010d 00000 n \n", offset) }
    body += "trailer\n<< /Size \(objects.count + 1) /Root 1 0 R >>\nstartxref\n\(xref)\n%%EOF\n"
    return Data(body.utf8)
}

@Suite struct PDFTests {
    static let available = FileManager.default.isExecutableFile(atPath: "/usr/bin/pdftotext")

    @Test(.enabled(if: available, "needs poppler-utils (scripts/setup.sh)"))
    func pagesAreKeptForCitations() async throws {
        let folder = TemporaryFolder()
        let path = folder.write("docs/paper.pdf", makePDF(pages: ["Alpha particles are helium nuclei.", "Beta decay emits electrons."]))
        let document = try PDFLoader().load(Data(contentsOf: URL(fileURLWithPath: path)), url: URL(fileURLWithPath: path))
        #expect(document.blocks.map(\.page) == [1, 2])
        #expect(document.text.contains("Beta decay emits electrons."))
        let kb = try folder.knowledgeBase()
        _ = try await kb.ingest(embed: false)
        let hit = try await #require(try kb.search("electrons").results.first)
        #expect(hit.page == 2)
        await #expect(try kb.search("helium").results.first?.page == 1)
    }

    @Test(.enabled(if: available, "needs poppler-utils (scripts/setup.sh)"))
    func brokenPDFsAreReportedWithTheirReason() async throws {
        let folder = TemporaryFolder()
        folder.write("docs/empty-page.pdf", makePDF(pages: [""]))
        folder.write("docs/truncated.pdf", "%PDF-1.4\n%%EOF\n")
        folder.write("docs/good.md", "Fine.\n")
        let kb = try folder.knowledgeBase()
        let summary = try await kb.ingest(embed: false)
        let reasons = Dictionary(uniqueKeysWithValues: summary.failed.map { (($0.path as NSString).lastPathComponent, $0.error) })
        // Neither text nor images: an empty PDF is skipped, not failed.
        #expect(reasons["empty-page.pdf"] == nil)
        #expect(summary.skipped.contains { $0.path.hasSuffix("empty-page.pdf") && $0.reason == "no text (empty or white space only)" })
        #expect(reasons["truncated.pdf"]?.hasPrefix("damaged: ") == true)
        #expect(summary.added == 1)
    }

    @Test func missingLanguagePackIsAFailureNotGarbage() async throws {
        // What pdftotext prints (exit status 0) when poppler-data is missing and every Chinese character is dropped.
        let stderr = "Syntax Error: Missing language pack for 'Adobe-GB1' mapping\nSyntax Error (1234): Unknown font tag 'F1'\n"
        let problem = PDFLoader.languagePackProblem(stderr)
        #expect(problem == "Missing language pack for 'Adobe-GB1' mapping")
        let reason = LoadFailure.missingLanguagePack(problem!).description
        #expect(reason.contains("poppler-data"))
        #expect(!LoadFailure.missingLanguagePack(problem!).isSkip)
        #expect(PDFLoader.languagePackProblem("Syntax Warning: May not be a PDF file (continuing anyway)\n") == nil)
        #expect(PDFLoader.languagePackProblem("") == nil)
    }

    @Test func hyphenatedLinesJoin() async throws {
        #expect(PDFLoader.joinLines(["a docu-", "ment here"]) == "a document here")
        #expect(PDFLoader.joinLines(["中文第一行", "第二行"]) == "中文第一行第二行")
        #expect(PDFLoader.joinLines(["one", "two"]) == "one\ntwo")
    }
}

@Suite struct DelimitedTextTests {
    @Test func rowsKeepTheirColumnNames() async throws {
        let csv = "name,capital,\"motto, official\"\nFrance,Paris,\"Liberté, égalité\"\nKenya,Nairobi,\"Harambee\nsecond line\"\n\nPeru,Lima,\"Firme y \"\"feliz\"\"\"\n"
        let document = try DelimitedTextLoader().load(Data(csv.utf8), url: URL(fileURLWithPath: "/countries.csv"))
        #expect(document.blocks.count == 3)
        #expect(document.text(of: document.blocks[0]) == "name: France\ncapital: Paris\nmotto, official: Liberté, égalité")
        #expect(document.text(of: document.blocks[1]).contains("motto, official: Harambee second line"))
        #expect(document.text(of: document.blocks[2]).contains("motto, official: Firme y \"feliz\""))
        #expect(document.blocks.map(\.startLine) == [2, 3, 6])
        #expect(document.blocks.map(\.endLine) == [2, 4, 6])   // a quoted field spans lines 3-4
        let chunks = StructuredChunker(options: ChunkingOptions(maxTokens: 20, overlapTokens: 0)).chunk(document)
        #expect(chunks.allSatisfy { $0.endLine <= 6 })
        #expect(chunks.first?.startLine == 2)
        let tsv = try DelimitedTextLoader().load(Data("a\tb\n1\t2\n".utf8), url: URL(fileURLWithPath: "/t.tsv"))
        #expect(tsv.text == "a: 1\nb: 2")
        let semicolons = try DelimitedTextLoader().load(Data("x;y\n1;2\n".utf8), url: URL(fileURLWithPath: "/s.csv"))
        #expect(semicolons.text == "x: 1\ny: 2")
    }

    @Test func aQuestionAboutAValueFindsItsRow() async throws {
        let folder = TemporaryFolder()
        folder.write("docs/staff.csv", "name,department,phone\nAlice Wong,Radiology,5551\nBob Li,Cardiology,5552\n")
        let kb = try folder.knowledgeBase()
        _ = try await kb.ingest(embed: false)
        let hit = try await #require(try kb.search("Cardiology phone").results.first)
        #expect(hit.text.contains("name: Bob Li"))
    }
}

@Suite struct ContentSniffingTests {
    @Test func htmlSavedAsTextIsReadAsHTML() async throws {
        let html = "<!DOCTYPE html><html><head><title>T</title><script>var x = 1;</script></head><body><h1>Head</h1><p>Body text.</p></body></html>"
        let document = try PlainTextLoader().load(Data(html.utf8), url: URL(fileURLWithPath: "/page.txt"))
        #expect(document.format == "html")
        #expect(document.title == "T")
        #expect(!document.text.contains("var x"))
        #expect(document.text.contains("Body text."))
    }
}

@Suite struct SourceCodeTests {
    @Test func swiftSplitsOnDeclarationsNotInsideFunctions() async throws {
        let code = """
            import Foundation
            import KBCore

            /// Adds two numbers.
            /// Second doc line.
            @inlinable
            public func add(_ a: Int, _ b: Int) -> Int {
                let text = "a { brace in a string"

                return a + b   // a } in a comment
            }

            struct Point {
                var x: Int

                func moved() -> Point { self }
            }
            """
        let document = try SourceCodeLoader().load(Data(code.utf8), url: URL(fileURLWithPath: "/src/Math.swift"))
        let headings = document.blocks.filter { $0.kind == .heading }.map(\.title)
        #expect(headings == ["Math.swift › import Foundation", "Math.swift › func add", "Math.swift › struct Point"])
        let bodies = document.blocks.filter { $0.kind == .code }.map { document.text(of: $0) }
        #expect(bodies[1].hasPrefix("/// Adds two numbers."))
        #expect(bodies[1].hasSuffix("return a + b   // a } in a comment\n}"))
        #expect(bodies[2].contains("func moved()"))
        let chunks = StructuredChunker().chunk(document)
        #expect(chunks.map(\.heading) == ["Math.swift › import Foundation", "Math.swift › func add", "Math.swift › struct Point"])
        #expect(chunks[1].startLine == 4)
    }

    @Test func pythonAndConfigFiles() async throws {
        let python = "import os\n\n\n@cache\ndef load(path):\n    if path:\n        return 1\n\n    return 2\n\nclass Store:\n    def get(self):\n        pass\n"
        let units = SourceCodeLoader.units(python.components(separatedBy: "\n"), style: .indentation)
        #expect(units.map(\.symbol) == ["import os", "def load", "class Store"])
        #expect(units[1].lines == 3..<9)
        let toml = "title = \"x\"\n\n[server]\nport = 8080\n\n[database]\npath = \"kb.sqlite\"\n"
        #expect(SourceCodeLoader.units(toml.components(separatedBy: "\n"), style: .sections).map(\.symbol) == ["title", "[server]", "[database]"])
    }

    @Test func aQuestionFindsTheFunction() async throws {
        let folder = TemporaryFolder()
        folder.write("docs/net.go", "package net\n\n// Retry sends the request again with exponential backoff.\nfunc Retry(request Request) error {\n\treturn nil\n}\n\nfunc Close() {}\n")
        let kb = try folder.knowledgeBase()
        _ = try await kb.ingest(embed: false)
        let hit = try await #require(try kb.search("exponential backoff").results.first)
        #expect(hit.heading == "net.go › func Retry")
        #expect(hit.startLine == 3)
    }
}

import ZIPFoundation

func makeZip(_ members: [(String, String)]) throws -> Data {
    let archive = try Archive(data: Data(), accessMode: .create, pathEncoding: nil)
    for (path, text) in members {
        let data = Data(text.utf8)
        try archive.addEntry(with: path, type: .file, uncompressedSize: Int64(data.count), compressionMethod: .deflate) { position, size in
            data.subdata(in: Int(position)..<(Int(position) + size))
        }
    }
    return archive.data!
}

@Suite struct OfficeFormatTests {
    static let word = "xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\""

    @Test func docxHeadingsListsTablesFootnotes() async throws {
        let document = """
            <w:document \(Self.word)><w:body>
            <w:p><w:pPr><w:pStyle w:val="Title"/></w:pPr><w:r><w:t>Handbook</w:t></w:r></w:p>
            <w:p><w:pPr><w:pStyle w:val="Heading1"/></w:pPr><w:r><w:t>Duties</w:t></w:r></w:p>
            <w:p><w:r><w:t xml:space="preserve">The trustee </w:t></w:r><w:r><w:t>files reports.</w:t></w:r><w:r><w:footnoteReference w:id="1"/></w:r></w:p>
            <w:p><w:pPr><w:numPr><w:ilvl w:val="0"/></w:numPr></w:pPr><w:r><w:t>Monthly reports</w:t></w:r></w:p>
            <w:tbl><w:tr><w:tc><w:p><w:r><w:t>Form</w:t></w:r></w:p></w:tc><w:tc><w:p><w:r><w:t>Due</w:t></w:r></w:p></w:tc></w:tr>
            <w:tr><w:tc><w:p><w:r><w:t>UST-1</w:t></w:r></w:p></w:tc><w:tc><w:p><w:r><w:t>Monday</w:t></w:r></w:p></w:tc></w:tr></w:tbl>
            <w:p><w:r><w:drawing/></w:r></w:p>
            </w:body></w:document>
            """
        let footnotes = "<w:footnotes \(Self.word)><w:footnote w:id=\"0\"><w:p><w:r><w:t>separator</w:t></w:r></w:p></w:footnote><w:footnote w:id=\"1\"><w:p><w:r><w:t>See section 4.</w:t></w:r></w:p></w:footnote></w:footnotes>"
        let data = try makeZip([("[Content_Types].xml", "<Types/>"), ("word/document.xml", document), ("word/footnotes.xml", footnotes)])
        let extracted = try DOCXLoader().load(data, url: URL(fileURLWithPath: "/h.docx"))
        #expect(extracted.title == "Handbook")
        #expect(extracted.blocks.filter { $0.kind == .heading }.map(\.title) == ["Handbook", "Duties", "Footnotes"])
        #expect(extracted.text.contains("The trustee files reports."))
        #expect(extracted.text.contains("- Monthly reports"))
        #expect(extracted.text.contains("Form | Due\nUST-1 | Monday"))
        #expect(extracted.text.contains("[1] See section 4."))
        #expect(!extracted.text.contains("separator"))
        let chunks = StructuredChunker().chunk(extracted)
        #expect(chunks.first?.heading == "Handbook > Duties")
        #expect(throws: LoadFailure.self) { try DOCXLoader().load(Data("not a zip".utf8), url: URL(fileURLWithPath: "/x.docx")) }
    }

    @Test func epubChaptersInSpineOrder() async throws {
        let data = try makeZip([
            ("mimetype", "application/epub+zip"),
            ("META-INF/container.xml", "<container><rootfiles><rootfile full-path=\"OEBPS/content.opf\"/></rootfiles></container>"),
            ("OEBPS/content.opf", """
                <package xmlns:dc="http://purl.org/dc/elements/1.1/"><metadata><dc:title>Snow Book</dc:title></metadata>
                <manifest><item id="c2" href="two.xhtml"/><item id="c1" href="one%20a.xhtml"/></manifest>
                <spine><itemref idref="c1"/><itemref idref="c2"/></spine></package>
                """),
            ("OEBPS/one a.xhtml", "<html><head><title>One</title></head><body><h2>Skating</h2><p>Skating on the lake.</p></body></html>"),
            ("OEBPS/two.xhtml", "<html><head><title>Ski runs</title></head><body><p>Skiing down the slope.</p></body></html>"),
        ])
        let book = try EPUBLoader().load(data, url: URL(fileURLWithPath: "/b.epub"))
        #expect(book.title == "Snow Book")
        let headings = book.blocks.filter { $0.kind == .heading }
        #expect(headings.map(\.title) == ["Skating", "Ski runs"])
        #expect(headings.map(\.level) == [1, 1])
        #expect(book.text.range(of: "Skating on the lake.")!.lowerBound < book.text.range(of: "Skiing down the slope.")!.lowerBound)
        #expect(StructuredChunker().chunk(book).map(\.heading) == ["Skating", "Ski runs"])
    }
}

@Suite struct ContentRoutingTests {
    @Test func contentWinsOverATextExtension() async throws {
        let folder = TemporaryFolder()
        let docx = try makeZip([("word/document.xml", "<w:document \(OfficeFormatTests.word)><w:body><w:p><w:r><w:t>Hidden Word text.</w:t></w:r></w:p></w:body></w:document>")])
        folder.write("docs/report.txt", docx)
        if PDFTests.available { folder.write("docs/paper.md", makePDF(pages: ["Quarks are elementary particles."])) }
        let kb = try folder.knowledgeBase()
        let summary = try await kb.ingest(embed: false)
        #expect(summary.failed.isEmpty)
        await #expect(try kb.search("Hidden Word").results.first?.path.hasSuffix("report.txt") == true)
        if PDFTests.available { await #expect(try kb.search("quarks").results.first?.page == 1) }
        await #expect(try kb.ingest(embed: false).unchanged == summary.added)
    }
}
