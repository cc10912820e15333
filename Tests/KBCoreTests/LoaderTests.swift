import Foundation
import Testing
@testable import KBCore
import KBTestSupport

@Suite struct MarkdownLoaderTests {
    let source = """
        ---
        title: Front Matter Title
        ---
        # Guide

        Intro paragraph
        over two lines.

        ## Install ##

        ```sh
        # not a heading
        make install
        ```

        - first item
        - second item
          continued

        | a | b |
        |---|---|
        | 1 | 2 |

        Setext Title
        ------------
        Body under setext.
        """

    @Test func blocksAndHeadings() async throws {
        let document = try MarkdownLoader().load(Data(source.utf8), url: URL(fileURLWithPath: "/g.md"))
        #expect(document.title == "Front Matter Title")
        let kinds = document.blocks.map(\.kind)
        #expect(kinds == [.heading, .paragraph, .heading, .code, .listItem, .listItem, .table, .heading, .paragraph])
        let headings = document.blocks.filter { $0.kind == .heading }
        #expect(headings.map(\.title) == ["Guide", "Install", "Setext Title"])
        #expect(headings.map(\.level) == [1, 2, 2])
        #expect(document.text(of: document.blocks[3]).contains("# not a heading"))
        #expect(document.text(of: document.blocks[5]) == "- second item\n  continued")
        // Line numbers point into the source file.
        #expect(document.blocks[0].startLine == 4)
        #expect(document.blocks[1].startLine == 6)
        #expect(document.blocks[7].startLine == 24)
    }
}

@Suite struct HTMLLoaderTests {
    let page = """
        <!DOCTYPE html>
        <html><head><title>Page Title</title><style>body { color: red }</style>
        <script>var secret = "do not index";</script></head>
        <body>
        <nav><a href="/">Home</a> <a href="/about">About</a></nav>
        <div class="cookie-banner">We use cookies</div>
        <header><p>Site header</p></header>
        <main>
          <article>
            <h1>Main Heading</h1>
            <p>First   paragraph with <b>bold</b> text.</p>
            <h2>Details</h2>
            <ul><li>One</li><li>Two</li></ul>
            <table><tr><th>Name</th><th>Value</th></tr><tr><td>alpha</td><td>1</td></tr></table>
            <pre>code
          indented</pre>
            <p hidden>hidden text</p>
            <p style="display: none">invisible</p>
          </article>
        </main>
        <footer>Copyright footer</footer>
        <noscript>Enable JS</noscript>
        </body></html>
        """

    @Test func visibleTextOnly() async throws {
        let document = try HTMLLoader().load(Data(page.utf8), url: URL(fileURLWithPath: "/p.html"))
        #expect(document.title == "Page Title")
        for boilerplate in ["do not index", "color: red", "Home", "cookies", "Site header", "hidden text", "invisible", "Copyright", "Enable JS"] {
            #expect(!document.text.contains(boilerplate), "\(boilerplate) should be dropped")
        }
        #expect(document.blocks.filter { $0.kind == .heading }.map(\.title) == ["Main Heading", "Details"])
        #expect(document.text.contains("First paragraph with bold text."))
        #expect(document.text.contains("Name | Value\nalpha | 1"))
        #expect(document.text.contains("code\n  indented"))
        #expect(document.blocks.filter { $0.kind == .listItem }.count == 2)
        // Blocks carry source lines.
        let heading = try #require(document.blocks.first { $0.kind == .heading })
        #expect(heading.startLine == 10)
    }

    @Test func brokenHTMLStillYieldsText() async throws {
        let document = try HTMLLoader().load(Data("<p>Unclosed <b>tags <div>and &amp; entities &copy; here".utf8), url: URL(fileURLWithPath: "/b.html"))
        #expect(document.text.contains("Unclosed tags"))
        #expect(document.text.contains("and & entities © here"))
    }
}

@Suite struct XMLLoaderTests {
    @Test func leafElementsBecomeLabelledLines() async throws {
        let xml = """
            <?xml version="1.0" encoding="ISO-8859-1"?>
            <catalog><title>Countries</title>
            <country><name>Canada</name><capital>Ottawa</capital></country>
            <note>A longer note about <em>mixed</em> content that reads as prose.</note>
            </catalog>
            """
        let document = try XMLLoader().load(Data(xml.utf8), url: URL(fileURLWithPath: "/c.xml"))
        #expect(document.title == "Countries")
        #expect(document.text.contains("name: Canada\ncapital: Ottawa"))
        #expect(document.text.contains("A longer note about mixed content that reads as prose."))
    }

    @Test func externalEntitiesAreNotLoaded() async throws {
        let xml = """
            <?xml version="1.0"?>
            <!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>
            <r><p>before &x; after</p></r>
            """
        let document = try XMLLoader().load(Data(xml.utf8), url: URL(fileURLWithPath: "/e.xml"))
        #expect(!document.text.contains("root:"))
    }
}

@Suite struct ChunkerTests {
    func chunks(_ markdown: String, _ options: ChunkingOptions = ChunkingOptions()) throws -> (ExtractedDocument, [ChunkDraft]) {
        let document = try MarkdownLoader().load(Data(markdown.utf8), url: URL(fileURLWithPath: "/t.md"))
        return (document, StructuredChunker(options: options).chunk(document))
    }

    @Test func headingsStartSectionsAndKeepTheirPath() async throws {
        let (_, drafts) = try chunks("# A\n\nalpha text\n\n## B\n\nbeta text\n\n### C\n\ngamma\n\n## D\n\ndelta\n")
        #expect(drafts.map(\.heading) == ["A", "A > B", "A > B > C", "A > D"])
        #expect(drafts.map(\.text) == ["alpha text", "beta text", "gamma", "delta"])
        #expect(drafts.map(\.startLine) == [3, 7, 11, 15])
    }

    @Test func offsetsAndLinesPointIntoTheDocument() async throws {
        let text = (1...40).map { "Sentence number \($0) talks about topic \($0 % 7)." }.joined(separator: " ")
        let (document, drafts) = try chunks("# Title\n\n" + text + "\n\nSecond paragraph.\n", ChunkingOptions(maxTokens: 60, overlapTokens: 12))
        let scalars = Array(document.text.unicodeScalars)
        #expect(drafts.count > 3)
        for draft in drafts {
            #expect(String(String.UnicodeScalarView(scalars[draft.range])) == draft.text)
            #expect(draft.tokenCount <= 60)
        }
        // The short second paragraph joins the last chunk of the first; its lines end there.
        #expect(drafts.last?.text.hasSuffix("topic 5.\n\nSecond paragraph.") == true)
        #expect(drafts.last?.endLine == 5)
        #expect(drafts.first?.startLine == 3)
        // Consecutive chunks of the long paragraph overlap by whole sentences.
        let first = drafts[0], second = drafts[1]
        #expect(second.range.lowerBound < first.range.upperBound)
        #expect(first.text.hasSuffix(String(String.UnicodeScalarView(scalars[second.range.lowerBound..<first.range.upperBound]))))
    }

    @Test func chineseWithoutSpacesIsSplitIntoBoundedChunks() async throws {
        let sentence = "知识库助手根据文档回答问题并且注明引用的来源段落。"
        let (_, drafts) = try chunks(String(repeating: sentence, count: 30), ChunkingOptions(maxTokens: 80, overlapTokens: 10))
        #expect(drafts.count >= 8)
        for draft in drafts {
            #expect(draft.tokenCount <= 80)
            #expect(draft.text.hasSuffix("。"))   // split at sentence ends
        }
        // A Chinese text with no punctuation at all is still bounded.
        let (_, unbroken) = try chunks(String(repeating: "汉字没有标点", count: 100), ChunkingOptions(maxTokens: 50, overlapTokens: 0))
        #expect(unbroken.count == 12)
        #expect(unbroken.allSatisfy { $0.tokenCount <= 50 })
    }

    @Test func unchangedTextKeepsItsHash() async throws {
        let (_, a) = try chunks("# H\n\nSame paragraph.\n\n# I\n\nOther.\n")
        let (_, b) = try chunks("# H\n\nSame paragraph.\n\n# I\n\nChanged.\n")
        #expect(a[0].contentHash == b[0].contentHash)
        #expect(a[1].contentHash != b[1].contentHash)
    }
}
