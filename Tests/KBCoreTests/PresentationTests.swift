import Foundation
import Testing
@testable import KBCore
import KBTestSupport

/// The failure a loader throws, or nil when it loads.
private func presentationLoadFailure(_ body: () throws -> ExtractedDocument) -> LoadFailure? {
    do {
        _ = try body()
        return nil
    } catch {
        return error as? LoadFailure
    }
}

/// An OLE compound file header, with an `EncryptedPackage` directory entry when `encrypted`.
private func presentationCompoundFile(encrypted: Bool) -> Data {
    var data = Data([0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1])
    data.append(Data(repeating: 0, count: 504))
    let name = encrypted ? "EncryptedPackage" : "PowerPoint Document"
    data.append(Data(name.utf16.flatMap { (unit: UInt16) -> [UInt8] in [UInt8(unit & 0xFF), UInt8(unit >> 8)] }))
    data.append(Data(repeating: 0, count: 512))
    return data
}

enum PresentationFixtures {
    static let namespaces = """
        xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" \
        xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" \
        xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main"
        """
    static let relationships = "xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\""
    static let relationshipType = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"

    /// A deck whose slide list puts slide2.xml first: slide 1 is "Quarterly Results" (title, text box with a
    /// bullet, a Chinese run, a table, speaker notes); slide 2 has no title (a group, a line break, a slide number).
    static func pptx(coreTitle: String? = nil) throws -> Data {
        let presentation = """
            <p:presentation \(namespaces)><p:sldIdLst><p:sldId id="256" r:id="rId3"/><p:sldId id="257" r:id="rId2"/></p:sldIdLst></p:presentation>
            """
        let presentationRels = """
            <Relationships \(relationships)>
            <Relationship Id="rId1" Type="\(relationshipType)/slideMaster" Target="slideMasters/slideMaster1.xml"/>
            <Relationship Id="rId2" Type="\(relationshipType)/slide" Target="slides/slide1.xml"/>
            <Relationship Id="rId3" Type="\(relationshipType)/slide" Target="/ppt/slides/slide2.xml"/>
            </Relationships>
            """
        let first = """
            <p:sld \(namespaces)><p:cSld><p:spTree>
            <p:nvGrpSpPr><p:cNvPr id="1" name=""/><p:cNvGrpSpPr/><p:nvPr/></p:nvGrpSpPr><p:grpSpPr/>
            <p:sp><p:nvSpPr><p:cNvPr id="2" name="Title 1"/><p:cNvSpPr/><p:nvPr><p:ph type="ctrTitle"/></p:nvPr></p:nvSpPr><p:spPr/>
            <p:txBody><a:bodyPr/><a:p><a:r><a:rPr lang="en-US"/><a:t>Quarterly </a:t></a:r><a:r><a:t>Results</a:t></a:r></a:p></p:txBody></p:sp>
            <p:sp><p:nvSpPr><p:cNvPr id="3" name="TextBox 2"/><p:cNvSpPr txBox="1"/><p:nvPr/></p:nvSpPr><p:spPr/>
            <p:txBody><a:bodyPr/><a:p><a:r><a:t>Revenue grew in every region.</a:t></a:r></a:p>
            <a:p><a:pPr lvl="1"/><a:r><a:t>Exports doubled</a:t></a:r></a:p>
            <a:p><a:r><a:rPr lang="zh-CN"/><a:t>营收增长百分之十</a:t></a:r></a:p></p:txBody></p:sp>
            <p:graphicFrame><p:nvGraphicFramePr><p:cNvPr id="4" name="Table 3"/><p:cNvGraphicFramePr/><p:nvPr/></p:nvGraphicFramePr><p:xfrm/>
            <a:graphic><a:graphicData uri="http://schemas.openxmlformats.org/drawingml/2006/table"><a:tbl><a:tblGrid><a:gridCol w="1"/><a:gridCol w="1"/></a:tblGrid>
            <a:tr h="1"><a:tc><a:txBody><a:bodyPr/><a:p><a:r><a:t>Region</a:t></a:r></a:p></a:txBody><a:tcPr/></a:tc><a:tc><a:txBody><a:bodyPr/><a:p><a:r><a:t>Sales</a:t></a:r></a:p></a:txBody><a:tcPr/></a:tc></a:tr>
            <a:tr h="1"><a:tc><a:txBody><a:bodyPr/><a:p><a:r><a:t>华东</a:t></a:r></a:p></a:txBody><a:tcPr/></a:tc><a:tc><a:txBody><a:bodyPr/><a:p><a:r><a:t>120</a:t></a:r></a:p></a:txBody><a:tcPr/></a:tc></a:tr>
            </a:tbl></a:graphicData></a:graphic></p:graphicFrame>
            </p:spTree></p:cSld></p:sld>
            """
        let firstRels = """
            <Relationships \(relationships)>
            <Relationship Id="rId1" Type="\(relationshipType)/slideLayout" Target="../slideLayouts/slideLayout1.xml"/>
            <Relationship Id="rId2" Type="\(relationshipType)/notesSlide" Target="../notesSlides/notesSlide1.xml"/>
            </Relationships>
            """
        let notes = """
            <p:notes \(namespaces)><p:cSld><p:spTree>
            <p:sp><p:nvSpPr><p:cNvPr id="2" name="Slide Image"/><p:cNvSpPr/><p:nvPr><p:ph type="sldImg"/></p:nvPr></p:nvSpPr><p:spPr/></p:sp>
            <p:sp><p:nvSpPr><p:cNvPr id="3" name="Notes"/><p:cNvSpPr/><p:nvPr><p:ph type="body" idx="1"/></p:nvPr></p:nvSpPr><p:spPr/>
            <p:txBody><a:bodyPr/><a:p><a:r><a:t>Mention the weather impact.</a:t></a:r></a:p></p:txBody></p:sp>
            <p:sp><p:nvSpPr><p:cNvPr id="4" name="Number"/><p:cNvSpPr/><p:nvPr><p:ph type="sldNum" idx="5"/></p:nvPr></p:nvSpPr><p:spPr/>
            <p:txBody><a:bodyPr/><a:p><a:fld id="{1}" type="slidenum"><a:t>1</a:t></a:fld></a:p></p:txBody></p:sp>
            </p:spTree></p:cSld></p:notes>
            """
        let second = """
            <p:sld \(namespaces)><p:cSld><p:spTree>
            <p:grpSp><p:nvGrpSpPr><p:cNvPr id="5" name="Group"/><p:cNvGrpSpPr/><p:nvPr/></p:nvGrpSpPr><p:grpSpPr/>
            <p:sp><p:nvSpPr><p:cNvPr id="6" name="TextBox 5"/><p:cNvSpPr txBox="1"/><p:nvPr/></p:nvSpPr><p:spPr/>
            <p:txBody><a:bodyPr/><a:p><a:r><a:t>Hiring plans for the winter term.</a:t></a:r></a:p>
            <a:p><a:r><a:t>Line one</a:t></a:r><a:br/><a:r><a:t>Line two</a:t></a:r></a:p></p:txBody></p:sp>
            </p:grpSp>
            <p:sp><p:nvSpPr><p:cNvPr id="7" name="Slide Number"/><p:cNvSpPr/><p:nvPr><p:ph type="sldNum" idx="12"/></p:nvPr></p:nvSpPr><p:spPr/>
            <p:txBody><a:bodyPr/><a:p><a:fld id="{2}" type="slidenum"><a:t>99</a:t></a:fld></a:p></p:txBody></p:sp>
            </p:spTree></p:cSld></p:sld>
            """
        var members = [
            ("[Content_Types].xml", "<Types/>"),
            ("ppt/presentation.xml", presentation),
            ("ppt/_rels/presentation.xml.rels", presentationRels),
            ("ppt/slides/slide1.xml", second),
            ("ppt/slides/slide2.xml", first),
            ("ppt/slides/_rels/slide2.xml.rels", firstRels),
            ("ppt/notesSlides/notesSlide1.xml", notes),
        ]
        if let coreTitle {
            members.append(("docProps/core.xml", """
                <cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" \
                xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>\(coreTitle)</dc:title></cp:coreProperties>
                """))
        }
        return try makeZip(members)
    }

    static let odfNamespaces = """
        xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" \
        xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0" \
        xmlns:presentation="urn:oasis:names:tc:opendocument:xmlns:presentation:1.0" \
        xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" \
        xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" \
        xmlns:xlink="http://www.w3.org/1999/xlink" \
        xmlns:dc="http://purl.org/dc/elements/1.1/"
        """

    static let manifest = """
        <manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0">
        <manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.text"/>
        <manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>
        </manifest:manifest>
        """

    static let encryptedManifest = """
        <manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0">
        <manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml" manifest:size="1200">
        <manifest:encryption-data manifest:checksum-type="SHA1/1K" manifest:checksum="AAAA">
        <manifest:algorithm manifest:algorithm-name="Blowfish CFB" manifest:initialisation-vector="AAAA"/>
        <manifest:key-derivation manifest:key-derivation-name="PBKDF2" manifest:iteration-count="1024" manifest:salt="AAAA"/>
        </manifest:encryption-data></manifest:file-entry>
        </manifest:manifest>
        """

    static let odpContent = """
        <office:document-content \(odfNamespaces)><office:body><office:presentation>
        <draw:page draw:name="page1">
        <draw:frame presentation:class="title"><draw:text-box><text:p>Launch Plan</text:p></draw:text-box></draw:frame>
        <draw:frame presentation:class="outline"><draw:text-box><text:list><text:list-item><text:p>Ship the beta in March</text:p></text:list-item></text:list></draw:text-box></draw:frame>
        <draw:frame presentation:class="page-number"><draw:text-box><text:p><text:page-number>1</text:page-number></text:p></draw:text-box></draw:frame>
        <presentation:notes><draw:page-thumbnail draw:page-number="1"/>
        <draw:frame presentation:class="notes"><draw:text-box><text:p>Ask about the marketing budget.</text:p></draw:text-box></draw:frame>
        </presentation:notes>
        </draw:page>
        <draw:page draw:name="Risks">
        <draw:frame><table:table><table:table-row><table:table-cell><text:p>Risk</text:p></table:table-cell><table:table-cell><text:p>Owner</text:p></table:table-cell></table:table-row>
        <table:table-row><table:table-cell><text:p>Delays</text:p></table:table-cell><table:table-cell><text:p>Dana</text:p></table:table-cell></table:table-row></table:table></draw:frame>
        </draw:page>
        <draw:page draw:name="page3"><draw:custom-shape><text:p>Questions welcome</text:p></draw:custom-shape></draw:page>
        </office:presentation></office:body></office:document-content>
        """

    static let odtContent = """
        <office:document-content \(odfNamespaces)><office:body><office:text>
        <text:sequence-decls><text:sequence-decl text:display-outline-level="0" text:name="Figure"/></text:sequence-decls>
        <text:h text:outline-level="1">Field Guide</text:h>
        <text:p>Birds <text:span>nest</text:span> in<text:s text:c="3"/>spring.<text:note text:id="ftn1" text:note-class="footnote"><text:note-citation>1</text:note-citation><text:note-body><text:p>Mostly in April.</text:p></text:note-body></text:note></text:p>
        <text:p>  Spaced   out
         words  </text:p>
        <text:h text:outline-level="2">Species</text:h>
        <text:list><text:list-item><text:p>Robins</text:p><text:list><text:list-item><text:p>European robin</text:p></text:list-item></text:list></text:list-item>
        <text:list-item><text:p>Wrens</text:p></text:list-item></text:list>
        <table:table table:name="Eggs"><table:table-column/><table:table-column/>
        <table:table-header-rows><table:table-row><table:table-cell><text:p>Bird</text:p></table:table-cell><table:table-cell><text:p>Eggs</text:p></table:table-cell></table:table-row></table:table-header-rows>
        <table:table-row><table:table-cell><text:p>Wren</text:p></table:table-cell><table:table-cell><text:p>6</text:p></table:table-cell></table:table-row></table:table>
        <text:soft-page-break/>
        <text:section text:name="S1"><text:p>Inside a <text:a xlink:href="https://example.com">section</text:a><text:tab/>tabbed<text:line-break/>next line.<text:bookmark text:name="b1"/><office:annotation><dc:creator>Ann</dc:creator><text:p>secret comment</text:p></office:annotation></text:p></text:section>
        <text:h text:outline-level="12">Deep notes</text:h>
        </office:text></office:body></office:document-content>
        """

    static func odt(meta: Bool = true) throws -> Data {
        var members = [("mimetype", "application/vnd.oasis.opendocument.text"), ("META-INF/manifest.xml", manifest), ("content.xml", odtContent)]
        if meta {
            members.append(("meta.xml", "<office:document-meta \(odfNamespaces)><office:meta><dc:title>Bird Notes</dc:title></office:meta></office:document-meta>"))
        }
        return try makeZip(members)
    }
}

@Suite struct PresentationTests {
    @Test func pptxSlidesInPresentationOrderWithTablesAndNotes() throws {
        let deck = try PPTXLoader().load(try PresentationFixtures.pptx(), url: URL(fileURLWithPath: "/deck.pptx"))
        #expect(deck.format == "pptx")
        #expect(deck.title == "Quarterly Results")
        let headings = deck.blocks.filter { $0.kind == .heading }
        #expect(headings.map(\.title) == ["Quarterly Results", "Slide 2"])
        #expect(headings.compactMap(\.locator) == [BlockLocator.slide(1), .slide(2)])
        #expect(headings.map(\.level) == [1, 1])
        // slide2.xml is listed first, so its text comes first.
        let results = try #require(deck.text.range(of: "Revenue grew in every region."))
        let hiring = try #require(deck.text.range(of: "Hiring plans for the winter term."))
        #expect(results.lowerBound < hiring.lowerBound)
        #expect(deck.text.contains("- Exports doubled"))
        #expect(deck.blocks.contains { $0.kind == .listItem })
        #expect(deck.text.contains("营收增长百分之十"))
        let table = try #require(deck.blocks.first { $0.kind == .table })
        #expect(table.locator == BlockLocator.slide(1))
        #expect(deck.text.contains("Region | Sales\n华东 | 120"))
        #expect(deck.text.contains("Notes: Mention the weather impact."))
        #expect(deck.text.contains("Line one\nLine two"))
        #expect(!deck.text.contains("99"))
        // Every block is located by its slide, and its line is the slide number.
        let scalars = Array(deck.text.unicodeScalars)
        for block in deck.blocks {
            let text = String(String.UnicodeScalarView(scalars[block.range]))
            let slide = text.contains("Hiring") || text.contains("Line one") || text == "Slide 2" ? 2 : 1
            #expect(block.locator == BlockLocator.slide(slide), "\(text)")
            #expect(block.startLine == slide, "\(text)")
        }
        let notes = try #require(deck.blocks.first { String(String.UnicodeScalarView(scalars[$0.range])).hasPrefix("Notes: ") })
        #expect(notes.locator == BlockLocator.slide(1))
        let chunks = StructuredChunker().chunk(deck)
        let hiringChunk = try #require(chunks.first { $0.text.contains("Hiring plans") })
        #expect(hiringChunk.heading == "Slide 2")
        #expect(hiringChunk.locator == "slide 2")
        #expect(hiringChunk.startLine == 2 && hiringChunk.endLine == 2)
        #expect(chunks.first { $0.text.contains("weather") }?.heading == "Quarterly Results")
    }

    @Test func pptxTitleFromCorePropertiesAndFailures() throws {
        let titled = try PPTXLoader().load(try PresentationFixtures.pptx(coreTitle: "Board Deck"), url: URL(fileURLWithPath: "/b.pptx"))
        #expect(titled.title == "Board Deck")
        let url = URL(fileURLWithPath: "/x.pptx")
        let noPresentation = try makeZip([("[Content_Types].xml", "<Types/>"), ("ppt/slides/slide1.xml", "<p:sld/>")])
        let missing = presentationLoadFailure { try PPTXLoader().load(noPresentation, url: url) }
        #expect(missing == LoadFailure.damaged("no ppt/presentation.xml in the PPTX"))
        let encrypted = presentationLoadFailure { try PPTXLoader().load(presentationCompoundFile(encrypted: true), url: url) }
        #expect(encrypted == LoadFailure.protected("the PowerPoint presentation"))
        let legacy = presentationLoadFailure { try PPTXLoader().load(presentationCompoundFile(encrypted: false), url: url) }
        if case .damaged(let message)? = legacy { #expect(message.contains("old binary Office file")) } else { Issue.record("got \(String(describing: legacy))") }
        if case .damaged? = presentationLoadFailure({ try PPTXLoader().load(Data("not a zip".utf8), url: url) }) {} else { Issue.record("not a ZIP should be damaged") }
        let empty = try makeZip([
            ("ppt/presentation.xml", "<p:presentation \(PresentationFixtures.namespaces)><p:sldIdLst><p:sldId id=\"256\" r:id=\"rId2\"/></p:sldIdLst></p:presentation>"),
            ("ppt/_rels/presentation.xml.rels", "<Relationships \(PresentationFixtures.relationships)><Relationship Id=\"rId2\" Type=\"x/slide\" Target=\"slides/slide1.xml\"/></Relationships>"),
            ("ppt/slides/slide1.xml", "<p:sld \(PresentationFixtures.namespaces)><p:cSld><p:spTree/></p:cSld></p:sld>"),
        ])
        let blank = presentationLoadFailure { try PPTXLoader().load(empty, url: url) }
        #expect(blank == LoadFailure.noText)
    }

    @Test func aSlideWithOnlyATitleIsAPassage() throws {
        let url = URL(fileURLWithPath: "/divider.pptx")
        let title = "<p:sp><p:nvSpPr><p:cNvPr id=\"2\" name=\"Title\"/><p:cNvSpPr/><p:nvPr><p:ph type=\"title\"/></p:nvPr></p:nvSpPr><p:txBody><a:p><a:r><a:t>Part Two: Field Results</a:t></a:r></a:p></p:txBody></p:sp>"
        let data = try makeZip([
            ("ppt/presentation.xml", "<p:presentation \(PresentationFixtures.namespaces)><p:sldIdLst><p:sldId id=\"256\" r:id=\"rId2\"/></p:sldIdLst></p:presentation>"),
            ("ppt/_rels/presentation.xml.rels", "<Relationships \(PresentationFixtures.relationships)><Relationship Id=\"rId2\" Type=\"x/slide\" Target=\"slides/slide1.xml\"/></Relationships>"),
            ("ppt/slides/slide1.xml", "<p:sld \(PresentationFixtures.namespaces)><p:cSld><p:spTree>\(title)</p:spTree></p:cSld></p:sld>"),
        ])
        let deck = try PPTXLoader().load(data, url: url)
        let chunks = StructuredChunker(options: ChunkingOptions()).chunk(deck)
        #expect(chunks.map(\.text) == ["Part Two: Field Results"])
        #expect(chunks.first?.locator == "slide 1")
    }

    @Test func odpPagesTitlesTablesAndNotes() throws {
        let data = try makeZip([("mimetype", "application/vnd.oasis.opendocument.presentation"), ("META-INF/manifest.xml", PresentationFixtures.manifest),
                                ("content.xml", PresentationFixtures.odpContent)])
        let deck = try ODPLoader().load(data, url: URL(fileURLWithPath: "/launch.odp"))
        #expect(deck.title == "Launch Plan")
        let headings = deck.blocks.filter { $0.kind == .heading }
        #expect(headings.map(\.title) == ["Launch Plan", "Risks", "Slide 3"])
        #expect(headings.compactMap(\.locator) == [BlockLocator.slide(1), .slide(2), .slide(3)])
        #expect(deck.text.contains("- Ship the beta in March"))
        #expect(deck.text.contains("Notes: Ask about the marketing budget."))
        #expect(deck.text.contains("Risk | Owner\nDelays | Dana"))
        #expect(deck.text.contains("Questions welcome"))
        let scalars = Array(deck.text.unicodeScalars)
        let notes = try #require(deck.blocks.first { String(String.UnicodeScalarView(scalars[$0.range])).hasPrefix("Notes: ") })
        #expect(notes.locator == BlockLocator.slide(1) && notes.startLine == 1)
        #expect(deck.blocks.first { $0.kind == .table }?.locator == BlockLocator.slide(2))
        #expect(deck.blocks.last?.locator == BlockLocator.slide(3))
        // The page-number frame is not text.
        #expect(!deck.text.contains("\n\n1\n\n"))

        let locked = try makeZip([("mimetype", "application/vnd.oasis.opendocument.presentation"),
                                  ("META-INF/manifest.xml", PresentationFixtures.encryptedManifest), ("content.xml", "garbage")])
        let protected = presentationLoadFailure { try ODPLoader().load(locked, url: URL(fileURLWithPath: "/l.odp")) }
        #expect(protected == LoadFailure.protected("the OpenDocument presentation"))
    }

    @Test func odtHeadingsListsTablesFootnotesAndSpaces() throws {
        let document = try ODTLoader().load(try PresentationFixtures.odt(), url: URL(fileURLWithPath: "/guide.odt"))
        #expect(document.format == "odt")
        #expect(document.title == "Bird Notes")
        let headings = document.blocks.filter { $0.kind == .heading }
        #expect(headings.map(\.title) == ["Field Guide", "Species", "Deep notes", "Footnotes"])
        #expect(headings.map(\.level) == [1, 2, 9, 1])
        let scalars = Array(document.text.unicodeScalars)
        let texts = document.blocks.map { String(String.UnicodeScalarView(scalars[$0.range])) }
        #expect(texts.contains("Birds nest in   spring."))
        #expect(texts.contains("Spaced out words"))
        let items = document.blocks.indices.filter { document.blocks[$0].kind == .listItem }.map { texts[$0] }
        #expect(items == ["- Robins", "- European robin", "- Wrens"])
        #expect(document.text.contains("Bird | Eggs\nWren | 6"))
        #expect(document.blocks.contains { $0.kind == .table })
        #expect(texts.contains("Inside a section\ttabbed\nnext line."))
        #expect(!document.text.contains("secret comment"))
        #expect(!document.text.contains("Ann"))
        // The footnote is not inline but at the end, under "Footnotes".
        #expect(texts.last == "[1] Mostly in April.")
        #expect(document.text.components(separatedBy: "Mostly in April.").count == 2)
        // Lines run on block by block.
        let lines = document.blocks.map(\.startLine)
        #expect(lines == lines.sorted() && Set(lines).count == lines.count)
        let chunks = StructuredChunker().chunk(document)
        #expect(chunks.contains { $0.heading == "Field Guide > Species" && $0.text.contains("European robin") })

        let untitled = try ODTLoader().load(try PresentationFixtures.odt(meta: false), url: URL(fileURLWithPath: "/g.odt"))
        #expect(untitled.title == "Field Guide")
    }

    @Test func odtFailures() throws {
        let url = URL(fileURLWithPath: "/x.odt")
        let locked = try makeZip([("mimetype", "application/vnd.oasis.opendocument.text"),
                                  ("META-INF/manifest.xml", PresentationFixtures.encryptedManifest), ("content.xml", "garbage")])
        let protected = presentationLoadFailure { try ODTLoader().load(locked, url: url) }
        #expect(protected == LoadFailure.protected("the OpenDocument text"))
        let noContent = try makeZip([("mimetype", "application/vnd.oasis.opendocument.text"), ("META-INF/manifest.xml", PresentationFixtures.manifest)])
        let missing = presentationLoadFailure { try ODTLoader().load(noContent, url: url) }
        #expect(missing == LoadFailure.damaged("no content.xml in the ODT"))
        if case .damaged? = presentationLoadFailure({ try ODTLoader().load(Data("PK not really".utf8), url: url) }) {} else {
            Issue.record("not a ZIP should be damaged")
        }
        let empty = try makeZip([("content.xml", "<office:document-content \(PresentationFixtures.odfNamespaces)><office:body><office:text><text:p> </text:p></office:text></office:body></office:document-content>")])
        let blank = presentationLoadFailure { try ODTLoader().load(empty, url: url) }
        #expect(blank == LoadFailure.noText)
    }

    @Test func searchFindsSlidesUnderTheirTitles() async throws {
        let folder = TemporaryFolder()
        folder.write("docs/deck.pptx", try PresentationFixtures.pptx())
        let kb = try folder.knowledgeBase()
        let summary = try await kb.ingest(embed: false)
        #expect(summary.failed.isEmpty)
        #expect(summary.added == 1)
        let notes = try await #require(try kb.search("weather impact").results.first)
        #expect(notes.path.hasSuffix("deck.pptx"))
        #expect(notes.heading == "Quarterly Results")
        let hiring = try await #require(try kb.search("hiring plans").results.first)
        #expect(hiring.heading == "Slide 2")
    }
}
