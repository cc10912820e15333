import CLibXML2
import Foundation

// MARK: - PowerPoint

/// PowerPoint presentations (`.pptx`, `.pptm`): slides in presentation order, each under a heading with
/// its title (or "Slide N"), text boxes, grouped shapes, tables as rows of `cell | cell`, and the
/// speaker notes; every block is located by its slide, and a slide's number is its line.
public struct PPTXLoader: DocumentLoader {
    public let format = "pptx"
    public let fileExtensions: Set<String> = ["pptx", "pptm"]
    public let version = "1"

    /// A PowerPoint loader.
    public init() {}

    /// The relationships namespace of transitional and of strict OOXML, for `r:id` attributes.
    private static let relationshipNamespaces = [
        "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
        "http://purl.oclc.org/ooxml/officeDocument/relationships",
    ]

    private struct Relationship {
        let type: String
        let target: String
    }

    /// What one slide holds: its title placeholder's text and its other text, in document order.
    private struct SlideContent {
        var title: String?
        var blocks: [(kind: BlockKind, text: String)] = []
    }

    public func load(_ data: Data, url: URL) throws(LoadFailure) -> ExtractedDocument {
        try Self.rejectCompoundFile(data)
        let container = try ZipContainer(data, kind: "PPTX")
        guard let presentation = try container.xml("ppt/presentation.xml") else { throw .damaged("no ppt/presentation.xml in the PPTX") }
        defer { xmlFreeDoc(presentation) }
        guard let root = xmlDocGetRootElement(presentation) else { throw .damaged("ppt/presentation.xml is not readable XML") }
        let relationships = try Self.relationships(container, of: "ppt/presentation.xml")
        var slidePaths: [String] = []
        for slideID in LibXML.descendants(root, named: "sldid") {
            if let id = Self.relationshipID(slideID), let target = relationships[id]?.target { slidePaths.append(target) }
        }
        // A presentation whose slide list cannot be resolved is read in the order of its slide files' numbers.
        if slidePaths.isEmpty { slidePaths = Self.slidesByFileName(container) }
        guard !slidePaths.isEmpty else { throw .noText }

        var builder = DocumentTextBuilder()
        var warnings: [String] = []
        var firstTitle: String?
        var hasText = false
        for (index, path) in slidePaths.enumerated() {
            let number = index + 1
            guard let slide = try container.xml(path) else {
                warnings.append("slide \(number) (\(path)) is missing from the presentation")
                continue
            }
            defer { xmlFreeDoc(slide) }
            var content = SlideContent()
            if let slideRoot = xmlDocGetRootElement(slide), let tree = LibXML.descendants(slideRoot, named: "sptree").first {
                Self.collectShapes(tree, into: &content)
            }
            if index == 0 { firstTitle = content.title }
            let notes = try Self.notes(container, slide: path)
            if content.title != nil || !content.blocks.isEmpty || notes != nil { hasText = true }
            let locator = BlockLocator.slide(number)
            builder.append(.heading, content.title ?? "Slide \(number)", line: number, level: 1, endLine: number, locator: locator)
            for block in content.blocks {
                builder.append(block.kind, block.text, line: number, endLine: number, locator: locator)
            }
            if let notes { builder.append(.paragraph, "Notes: " + notes, line: number, endLine: number, locator: locator) }
            // A slide with a title and nothing else (a section divider) is still a passage: its title.
            if let title = content.title, content.blocks.isEmpty, notes == nil {
                builder.append(.paragraph, title, line: number, endLine: number, locator: locator)
            }
        }
        guard hasText, !builder.blocks.isEmpty else { throw .noText }
        let title = Self.coreTitle(container) ?? firstTitle
        return ExtractedDocument(format: format, encoding: "utf-8", title: title, text: builder.text, blocks: builder.blocks,
                                 warnings: warnings)
    }

    /// An encrypted OOXML file is an OLE compound file holding an `EncryptedPackage` stream; a legacy `.ppt`
    /// is one without it.
    private static func rejectCompoundFile(_ data: Data) throws(LoadFailure) {
        try ZipContainer.rejectCompoundFile(data, protected: "the PowerPoint presentation",
                                            legacy: "the file is an old binary Office file (PowerPoint 97–2003 .ppt), not a .pptx presentation")
    }

    /// The `r:id` attribute (namespaced), which `LibXML.attribute(node, "id")` does not tell from a plain `id`.
    private static func relationshipID(_ node: xmlNodePtr) -> String? {
        for namespace in relationshipNamespaces {
            if let value = xmlGetNsProp(node, "id", namespace) {
                defer { kb_xml_free(value) }
                return String(cString: value)
            }
        }
        return nil
    }

    /// A part's relationships (`dir/_rels/name.rels`), by id, with targets resolved to archive paths.
    private static func relationships(_ container: ZipContainer, of part: String) throws(LoadFailure) -> [String: Relationship] {
        let directory = (part as NSString).deletingLastPathComponent
        let file = (part as NSString).lastPathComponent
        let path = (directory.isEmpty ? "" : directory + "/") + "_rels/" + file + ".rels"
        guard let document = try container.xml(path) else { return [:] }
        defer { xmlFreeDoc(document) }
        guard let root = xmlDocGetRootElement(document) else { return [:] }
        var out: [String: Relationship] = [:]
        for node in LibXML.descendants(root, named: "relationship") {
            guard let id = LibXML.attribute(node, "Id"), let target = LibXML.attribute(node, "Target"),
                  LibXML.attribute(node, "TargetMode")?.lowercased() != "external" else { continue }
            out[id] = Relationship(type: LibXML.attribute(node, "Type") ?? "", target: resolve(target, from: directory))
        }
        return out
    }

    /// A relationship target relative to `directory` (or absolute, from the package root) as an archive path.
    private static func resolve(_ target: String, from directory: String) -> String {
        let decoded = target.removingPercentEncoding ?? target
        var parts: [Substring] = decoded.hasPrefix("/") ? [] : directory.split(separator: "/")
        for component in decoded.split(separator: "/") {
            if component == "." { continue }
            if component == ".." {
                if !parts.isEmpty { parts.removeLast() }
                continue
            }
            parts.append(component)
        }
        return parts.joined(separator: "/")
    }

    /// `ppt/slides/slideN.xml` by N, for a presentation whose slide list does not resolve.
    private static func slidesByFileName(_ container: ZipContainer) -> [String] {
        let prefix = "ppt/slides/slide"
        var numbered: [(number: Int, path: String)] = []
        for entry in container.archive {
            let path = entry.path
            guard path.hasPrefix(prefix), path.hasSuffix(".xml") else { continue }
            if let number = Int(path.dropFirst(prefix.count).dropLast(4)) { numbered.append((number, path)) }
        }
        return numbered.sorted { $0.number < $1.number }.map { $0.path }
    }

    /// The `dc:title` of `docProps/core.xml`, when it has one.
    private static func coreTitle(_ container: ZipContainer) -> String? {
        guard let document = try? container.xml("docProps/core.xml") else { return nil }
        defer { xmlFreeDoc(document) }
        guard let root = xmlDocGetRootElement(document),
              let node = LibXML.descendants(root, named: "title").first else { return nil }
        let title = ODFText.singleLine(LibXML.content(node))
        return title.isEmpty ? nil : title
    }

    /// The placeholder type of a shape (`p:nvSpPr/p:nvPr/p:ph`), lower-cased; "obj" for a placeholder without
    /// a type, nil for a shape that is not a placeholder.
    private static func placeholderType(_ shape: xmlNodePtr) -> String? {
        guard let properties = ODFText.elements(shape).first(where: { LibXML.name($0) == "nvsppr" }),
              let application = ODFText.elements(properties).first(where: { LibXML.name($0) == "nvpr" }),
              let placeholder = ODFText.elements(application).first(where: { LibXML.name($0) == "ph" }) else { return nil }
        return LibXML.attribute(placeholder, "type")?.lowercased() ?? "obj"
    }

    /// Shapes of a shape tree in document order: text shapes, groups, tables.
    private static func collectShapes(_ node: xmlNodePtr, into content: inout SlideContent) {
        for child in ODFText.elements(node) {
            switch LibXML.name(child) {
            case "sp":
                let type = placeholderType(child)
                // Slide numbers, dates, footers and headers repeat on every slide.
                if let type, ["sldnum", "dt", "ftr", "hdr"].contains(type) { continue }
                let paragraphs = textBody(child)
                if content.title == nil, type == "title" || type == "ctrtitle" {
                    let title = ODFText.singleLine(paragraphs.map { $0.text }.joined(separator: " "))
                    if !title.isEmpty {
                        content.title = title
                        continue
                    }
                }
                for paragraph in paragraphs {
                    if paragraph.listItem {
                        content.blocks.append((kind: BlockKind.listItem, text: "- " + paragraph.text))
                    } else {
                        content.blocks.append((kind: BlockKind.paragraph, text: paragraph.text))
                    }
                }
            case "grpsp":
                collectShapes(child, into: &content)
            case "graphicframe":
                for table in LibXML.descendants(child, named: "tbl") {
                    var rows: [String] = []
                    for row in ODFText.elements(table) where LibXML.name(row) == "tr" {
                        let cells = ODFText.elements(row).filter { LibXML.name($0) == "tc" }.map { cell in
                            ODFText.singleLine(textBody(cell).map { $0.text }.joined(separator: " "))
                        }
                        if cells.contains(where: { !$0.isEmpty }) { rows.append(cells.joined(separator: " | ")) }
                    }
                    if !rows.isEmpty { content.blocks.append((kind: BlockKind.table, text: rows.joined(separator: "\n"))) }
                }
            case "alternatecontent":
                // Markup compatibility: read one branch, not both.
                let branches = ODFText.elements(child)
                if let branch = branches.first(where: { LibXML.name($0) == "choice" }) ?? branches.first(where: { LibXML.name($0) == "fallback" }) {
                    collectShapes(branch, into: &content)
                }
            default:
                continue
            }
        }
    }

    /// The non-empty paragraphs of a shape's or table cell's text body; a paragraph with a bullet or an
    /// indent level (and no line break) is a list item.
    private static func textBody(_ node: xmlNodePtr) -> [(text: String, listItem: Bool)] {
        guard let body = ODFText.elements(node).first(where: { LibXML.name($0) == "txbody" }) else { return [] }
        var out: [(text: String, listItem: Bool)] = []
        for paragraph in ODFText.elements(body) where LibXML.name(paragraph) == "p" {
            let text = paragraphText(paragraph).trimmingCharacters(in: .whitespacesAndNewlines)
            guard !text.isEmpty else { continue }
            let properties = ODFText.elements(paragraph).first { LibXML.name($0) == "ppr" }
            let level = properties.flatMap { LibXML.attribute($0, "lvl") }.flatMap { Int($0) } ?? 0
            let bullets = properties.map { ODFText.elements($0).map(LibXML.name) } ?? []
            let bulleted = bullets.contains { $0 == "buchar" || $0 == "buautonum" || $0 == "bublip" }
            let listItem = !bullets.contains("bunone") && (level > 0 || bulleted) && !text.contains("\n")
            out.append((text: text, listItem: listItem))
        }
        return out
    }

    /// A DrawingML paragraph: its runs' and fields' text, line breaks as newlines.
    private static func paragraphText(_ paragraph: xmlNodePtr) -> String {
        var out = ""
        for child in ODFText.elements(paragraph) {
            switch LibXML.name(child) {
            case "r", "fld":
                for text in ODFText.elements(child) where LibXML.name(text) == "t" { out += LibXML.content(text) }
            case "br":
                out += "\n"
            default:
                continue
            }
        }
        return out
    }

    /// The speaker notes of a slide: the text of its notes slide's body placeholders.
    private static func notes(_ container: ZipContainer, slide path: String) throws(LoadFailure) -> String? {
        let links = try Self.relationships(container, of: path)
        guard let target = links.values.first(where: { $0.type.hasSuffix("/notesSlide") })?.target,
              let document = try container.xml(target) else { return nil }
        defer { xmlFreeDoc(document) }
        guard let root = xmlDocGetRootElement(document) else { return nil }
        var parts: [String] = []
        for shape in LibXML.descendants(root, named: "sp") where placeholderType(shape) == "body" {
            parts += textBody(shape).map { $0.text }
        }
        return parts.isEmpty ? nil : parts.joined(separator: "\n")
    }
}

// MARK: - OpenDocument presentation

/// OpenDocument presentations (`.odp`): pages in order, each under a heading with its title frame's text
/// (or the page's own name, or "Slide N"), text boxes, shapes' text, tables as rows of `cell | cell`, and the
/// speaker notes; every block is located by its slide, and a slide's number is its line.
public struct ODPLoader: DocumentLoader {
    public let format = "odp"
    public let fileExtensions: Set<String> = ["odp"]
    public let version = "1"

    /// An OpenDocument presentation loader.
    public init() {}

    public func load(_ data: Data, url: URL) throws(LoadFailure) -> ExtractedDocument {
        let container = try ODFText.open(data, kind: "ODP", protected: "the OpenDocument presentation")
        let document = try ODFText.content(container, kind: "ODP")
        defer { xmlFreeDoc(document) }
        var pages: [xmlNodePtr] = []
        if let root = xmlDocGetRootElement(document), let presentation = ODFText.officeBody(root, "presentation") {
            pages = ODFText.elements(presentation).filter { LibXML.name($0) == "page" }
        }
        var builder = DocumentTextBuilder()
        var firstTitle: String?
        var hasText = false
        var ignoredNotes: [ODFText.Note] = []
        for (index, page) in pages.enumerated() {
            let number = index + 1
            var title: String?
            var blocks: [ODFText.Block] = []
            Self.collectShapes(page, title: &title, blocks: &blocks, notes: &ignoredNotes)
            var speakerNotes: [String] = []
            for notes in ODFText.elements(page) where LibXML.name(notes) == "notes" {
                for frame in LibXML.descendants(notes, named: "frame") where LibXML.attribute(frame, "class")?.lowercased() == "notes" {
                    speakerNotes += ODFText.blocks(frame, headings: false, notes: &ignoredNotes).map(\.text)
                }
            }
            if title != nil || !blocks.isEmpty || !speakerNotes.isEmpty { hasText = true }
            if title == nil, let name = LibXML.attribute(page, "name").map(ODFText.singleLine), !name.isEmpty, !Self.isGenericPageName(name) {
                title = name
            }
            if index == 0 { firstTitle = title }
            let locator = BlockLocator.slide(number)
            builder.append(.heading, title ?? "Slide \(number)", line: number, level: 1, endLine: number, locator: locator)
            for block in blocks { builder.append(block.kind, block.text, line: number, endLine: number, locator: locator) }
            if !speakerNotes.isEmpty {
                builder.append(.paragraph, "Notes: " + speakerNotes.joined(separator: "\n"), line: number, endLine: number, locator: locator)
            }
            // A slide with a title and nothing else (a section divider) is still a passage: its title.
            if let title, blocks.isEmpty, speakerNotes.isEmpty {
                builder.append(.paragraph, title, line: number, endLine: number, locator: locator)
            }
        }
        guard hasText, !builder.blocks.isEmpty else { throw .noText }
        let title = ODFText.metaTitle(container) ?? firstTitle
        return ExtractedDocument(format: format, encoding: "utf-8", title: title, text: builder.text, blocks: builder.blocks)
    }

    /// Names an application gives pages by itself ("page1", "Slide 3"), which are no titles.
    private static func isGenericPageName(_ name: String) -> Bool {
        let compact = name.lowercased().filter { !$0.isWhitespace }
        for prefix in ["page", "slide"] where compact.hasPrefix(prefix) {
            if Int(compact.dropFirst(prefix.count)) != nil { return true }
        }
        return false
    }

    /// A page's (or group's) shapes in document order: the first title frame becomes the title; speaker
    /// notes are read separately.
    private static func collectShapes(_ node: xmlNodePtr, title: inout String?, blocks: inout [ODFText.Block], notes: inout [ODFText.Note]) {
        for child in ODFText.elements(node) {
            switch LibXML.name(child) {
            case "frame":
                let kind = LibXML.attribute(child, "class")?.lowercased() ?? ""
                // Page numbers, footers and dates repeat on every slide.
                if ["page-number", "footer", "header", "date-time"].contains(kind) { continue }
                if kind == "title", title == nil {
                    let text = ODFText.singleLine(ODFText.flatText(child, notes: &notes))
                    if !text.isEmpty {
                        title = text
                        continue
                    }
                }
                blocks += ODFText.blocks(child, headings: false, notes: &notes)
            case "g":
                collectShapes(child, title: &title, blocks: &blocks, notes: &notes)
            case "notes", "forms":
                continue
            default:
                // Custom shapes, rectangles, captions…: their own paragraphs.
                blocks += ODFText.blocks(child, headings: false, notes: &notes)
            }
        }
    }
}

// MARK: - OpenDocument text

/// OpenDocument text documents (`.odt`): headings by outline level, paragraphs, nested lists, tables as rows
/// of `cell | cell`, sections; footnotes and endnotes at the end under "Footnotes"; comments skipped.
public struct ODTLoader: DocumentLoader {
    public let format = "odt"
    public let fileExtensions: Set<String> = ["odt"]
    public let version = "1"

    /// An OpenDocument text loader.
    public init() {}

    public func load(_ data: Data, url: URL) throws(LoadFailure) -> ExtractedDocument {
        let container = try ODFText.open(data, kind: "ODT", protected: "the OpenDocument text")
        let document = try ODFText.content(container, kind: "ODT")
        defer { xmlFreeDoc(document) }
        var notes: [ODFText.Note] = []
        var blocks: [ODFText.Block] = []
        if let root = xmlDocGetRootElement(document), let text = ODFText.officeBody(root, "text") {
            blocks = ODFText.blocks(text, headings: true, notes: &notes)
        }
        var builder = DocumentTextBuilder()
        // Lines count blocks (and the lines inside them), as for Word documents.
        var line = 1
        for block in blocks {
            builder.append(block.kind, block.text, line: line, level: block.level)
            line += Self.lineCount(block.text)
        }
        let firstHeading = builder.blocks.first { $0.kind == .heading }?.title
        var footnotes: [String] = []
        for (index, note) in notes.enumerated() where !note.text.isEmpty {
            footnotes.append("[\(note.citation.isEmpty ? String(index + 1) : note.citation)] \(note.text)")
        }
        if !footnotes.isEmpty {
            builder.append(.heading, "Footnotes", line: line, level: 1)
            for footnote in footnotes {
                line += 1
                builder.append(.paragraph, footnote, line: line)
            }
        }
        guard !builder.blocks.isEmpty else { throw .noText }
        let title = ODFText.metaTitle(container) ?? firstHeading
        return ExtractedDocument(format: format, encoding: "utf-8", title: title, text: builder.text, blocks: builder.blocks)
    }

    private static func lineCount(_ text: String) -> Int {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return 1 + trimmed.unicodeScalars.reduce(0) { $0 + ($1 == "\n" ? 1 : 0) }
    }
}

// MARK: - OpenDocument helpers

/// Shared by the OpenDocument presentation and text loaders: opening the package, refusing encrypted ones,
/// and reading ODF text (paragraphs, lists, tables, inline spans and spaces, notes).
enum ODFText {
    /// A block of ODF text before it is placed in a document.
    struct Block {
        var kind: BlockKind
        var text: String
        var level: Int
    }

    /// A footnote or endnote met in the text: its citation mark and body.
    struct Note {
        var citation: String
        var text: String
    }

    /// Opens an OpenDocument package (``ZipContainer/openDocument(_:kind:protected:)``).
    static func open(_ data: Data, kind: String, protected what: String) throws(LoadFailure) -> ZipContainer {
        try ZipContainer.openDocument(data, kind: kind, protected: what)
    }

    /// The package's `content.xml`, which the caller frees.
    static func content(_ container: ZipContainer, kind: String) throws(LoadFailure) -> xmlDocPtr {
        guard let document = try container.xml("content.xml") else { throw .damaged("no content.xml in the \(kind)") }
        return document
    }

    /// The `dc:title` of `meta.xml`, when it has one.
    static func metaTitle(_ container: ZipContainer) -> String? {
        guard let document = try? container.xml("meta.xml") else { return nil }
        defer { xmlFreeDoc(document) }
        guard let root = xmlDocGetRootElement(document),
              let node = LibXML.descendants(root, named: "title").first else { return nil }
        let title = singleLine(LibXML.content(node))
        return title.isEmpty ? nil : title
    }

    /// `office:body/office:<kind>` under a document's root (`text`, `presentation`).
    static func officeBody(_ root: xmlNodePtr, _ kind: String) -> xmlNodePtr? {
        guard let body = elements(root).first(where: { LibXML.name($0) == "body" }) else { return nil }
        return elements(body).first { LibXML.name($0) == kind }
    }

    /// The element children of a node (libxml2 names text nodes "text", which must not pass for `office:text`).
    static func elements(_ node: xmlNodePtr) -> [xmlNodePtr] {
        LibXML.children(node).filter { $0.pointee.type == XML_ELEMENT_NODE }
    }

    /// Text on one line: lines trimmed and joined by spaces.
    static func singleLine(_ text: String) -> String {
        text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            .joined(separator: " ")
    }

    /// The blocks of a text container (`office:text`, a section, a text box, a frame): headings (or, when
    /// `headings` is false, paragraphs) from `text:h`, paragraphs, list items `- text`, tables. Empty ones are left out.
    static func blocks(_ node: xmlNodePtr, headings: Bool, notes: inout [Note]) -> [Block] {
        var out: [Block] = []
        appendBlocks(node, headings: headings, into: &out, notes: &notes)
        return out
    }

    private static func appendBlocks(_ node: xmlNodePtr, headings: Bool, into out: inout [Block], notes: inout [Note]) {
        for child in elements(node) {
            switch LibXML.name(child) {
            case "h":
                let text = inlineText(child, notes: &notes)
                guard !text.isEmpty else { continue }
                if headings {
                    let level = LibXML.attribute(child, "outline-level").flatMap { Int($0.trimmingCharacters(in: .whitespaces)) } ?? 1
                    out.append(Block(kind: .heading, text: singleLine(text), level: min(9, max(1, level))))
                } else {
                    out.append(Block(kind: .paragraph, text: text, level: 0))
                }
            case "p":
                let text = inlineText(child, notes: &notes)
                if !text.isEmpty { out.append(Block(kind: .paragraph, text: text, level: 0)) }
            case "list":
                appendList(child, into: &out, notes: &notes)
            case "numbered-paragraph":
                appendListItem(child, into: &out, notes: &notes)
            case "table":
                let rows = tableRows(child, notes: &notes)
                if !rows.isEmpty { out.append(Block(kind: .table, text: rows.joined(separator: "\n"), level: 0)) }
            case "section", "text-box":
                appendBlocks(child, headings: headings, into: &out, notes: &notes)
            default:
                // soft page breaks, tables of contents, tracked changes, declarations, images
                continue
            }
        }
    }

    private static func appendList(_ list: xmlNodePtr, into out: inout [Block], notes: inout [Note]) {
        for item in elements(list) {
            let name = LibXML.name(item)
            if name == "list-item" || name == "list-header" { appendListItem(item, into: &out, notes: &notes) }
        }
    }

    /// A list item's paragraphs as one item; a nested list's items follow it.
    private static func appendListItem(_ item: xmlNodePtr, into out: inout [Block], notes: inout [Note]) {
        var texts: [String] = []
        for child in elements(item) {
            switch LibXML.name(child) {
            case "p", "h":
                let text = inlineText(child, notes: &notes)
                if !text.isEmpty { texts.append(text) }
            case "list":
                if !texts.isEmpty {
                    out.append(Block(kind: .listItem, text: "- " + texts.joined(separator: "\n"), level: 0))
                    texts = []
                }
                appendList(child, into: &out, notes: &notes)
            default:
                continue
            }
        }
        if !texts.isEmpty { out.append(Block(kind: .listItem, text: "- " + texts.joined(separator: "\n"), level: 0)) }
    }

    /// A table's rows as `cell | cell` lines (header rows and row groups included, covered cells and
    /// trailing empty cells left out, empty rows skipped).
    static func tableRows(_ table: xmlNodePtr, notes: inout [Note]) -> [String] {
        var rows: [String] = []
        appendRows(table, into: &rows, notes: &notes)
        return rows
    }

    private static func appendRows(_ node: xmlNodePtr, into rows: inout [String], notes: inout [Note]) {
        for child in elements(node) {
            switch LibXML.name(child) {
            case "table-row":
                var cells: [String] = []
                for cell in elements(child) where LibXML.name(cell) == "table-cell" {
                    cells.append(singleLine(flatText(cell, notes: &notes)))
                }
                while cells.last?.isEmpty == true { cells.removeLast() }
                if !cells.isEmpty { rows.append(cells.joined(separator: " | ")) }
            case "table-header-rows", "table-rows", "table-row-group":
                appendRows(child, into: &rows, notes: &notes)
            default:
                continue
            }
        }
    }

    /// The text of a container's paragraphs (in lists, sections, text boxes too), joined by spaces: a table
    /// cell, a note body, a title frame.
    static func flatText(_ node: xmlNodePtr, notes: inout [Note]) -> String {
        var parts: [String] = []
        appendFlat(node, into: &parts, notes: &notes)
        return parts.joined(separator: " ")
    }

    private static func appendFlat(_ node: xmlNodePtr, into parts: inout [String], notes: inout [Note]) {
        for child in elements(node) {
            switch LibXML.name(child) {
            case "p", "h":
                let text = inlineText(child, notes: &notes)
                if !text.isEmpty { parts.append(text) }
            case "list", "list-item", "list-header", "section", "text-box", "note-body", "numbered-paragraph":
                appendFlat(child, into: &parts, notes: &notes)
            default:
                continue
            }
        }
    }

    /// Collapses white space as ODF does: runs of spaces, tabs and newlines in the XML are one space, and
    /// white space at the start of a paragraph is dropped; `text:s`, `text:tab` and `text:line-break` are kept.
    private struct InlineWriter {
        var scalars = String.UnicodeScalarView()
        var afterSpace = true

        mutating func source(_ text: String) {
            let space: Unicode.Scalar = " "
            for scalar in text.unicodeScalars {
                switch scalar.value {
                case 0x20, 0x09, 0x0A, 0x0D:
                    if !afterSpace { scalars.append(space); afterSpace = true }
                default:
                    scalars.append(scalar)
                    afterSpace = false
                }
            }
        }

        mutating func literal(_ text: String, endsLine: Bool = false) {
            scalars.append(contentsOf: text.unicodeScalars)
            afterSpace = endsLine
        }
    }

    /// The text of a paragraph or heading: text, spans, links, fields, `text:s` spaces (`c`, default 1),
    /// tabs, line breaks; notes are collected into `notes` instead; bookmarks, comments and drawings skipped.
    static func inlineText(_ node: xmlNodePtr, notes: inout [Note]) -> String {
        var writer = InlineWriter()
        walkInline(node, writer: &writer, notes: &notes)
        return String(writer.scalars).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private static func walkInline(_ node: xmlNodePtr, writer: inout InlineWriter, notes: inout [Note]) {
        for child in LibXML.children(node) {
            let type = child.pointee.type
            if type == XML_TEXT_NODE || type == XML_CDATA_SECTION_NODE {
                writer.source(LibXML.content(child))
                continue
            }
            guard type == XML_ELEMENT_NODE else { continue }
            switch LibXML.name(child) {
            case "s":
                let count = LibXML.attribute(child, "c").flatMap { Int($0.trimmingCharacters(in: .whitespaces)) } ?? 1
                writer.literal(String(repeating: " ", count: min(1024, max(1, count))))
            case "tab":
                writer.literal("\t")
            case "line-break":
                writer.literal("\n", endsLine: true)
            case "note":
                var citation = ""
                var body = ""
                for part in elements(child) {
                    switch LibXML.name(part) {
                    case "note-citation": citation = singleLine(LibXML.content(part))
                    case "note-body": body = singleLine(flatText(part, notes: &notes))
                    default: continue
                    }
                }
                notes.append(Note(citation: citation, text: body))
            case "bookmark", "bookmark-start", "bookmark-end", "annotation", "annotation-end", "soft-page-break",
                 "change", "change-start", "change-end", "reference-mark", "reference-mark-start", "reference-mark-end",
                 "ruby-text", "frame", "custom-shape", "image", "g", "object":
                continue
            default:
                // spans, links, fields, ruby bases, meta: their text
                walkInline(child, writer: &writer, notes: &notes)
            }
        }
    }
}
