import CLibXML2
import Foundation
import ZIPFoundation

/// Reads members of a ZIP container (DOCX, EPUB) with a bound on what is inflated.
struct ZipContainer {
    let archive: Archive
    /// Largest member kb inflates (a guard against zip bombs).
    static let memberLimit: UInt64 = 64 * 1024 * 1024

    init(_ data: Data, kind: String) throws(LoadFailure) {
        do { archive = try Archive(data: data, accessMode: .read, pathEncoding: nil) } catch {
            throw .damaged("not a readable \(kind) (ZIP) container")
        }
    }

    func data(_ path: String) throws(LoadFailure) -> Data? {
        guard let entry = archive[path] else { return nil }
        guard entry.uncompressedSize <= Self.memberLimit else {
            throw .tooLarge(size: Int(entry.uncompressedSize), limit: Int(Self.memberLimit))
        }
        var out = Data()
        // The declared size can lie: the limit holds for what actually inflates.
        struct Overflow: Error {}
        do {
            _ = try archive.extract(entry, consumer: { chunk in
                guard UInt64(out.count + chunk.count) <= Self.memberLimit else { throw Overflow() }
                out.append(chunk)
            })
        } catch is Overflow {
            throw .tooLarge(size: Int(Self.memberLimit) + 1, limit: Int(Self.memberLimit))
        } catch {
            throw .damaged("cannot inflate \(path): \(error)")
        }
        return out
    }

    /// The signature of an OLE compound file: an old binary Office file (.doc, .xls, .ppt), or an encrypted OOXML one.
    static let oleSignature: [UInt8] = [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]

    /// Throws for an OLE compound file under an OOXML or OpenDocument extension: `.protected(what)` when it holds
    /// an `EncryptedPackage` stream (a password-protected document), else `.damaged(legacy)` (an old binary file).
    static func rejectCompoundFile(_ data: Data, protected what: String, legacy: String) throws(LoadFailure) {
        guard data.starts(with: oleSignature) else { return }
        let name = "EncryptedPackage"
        // Directory entry names are UTF-16LE.
        let utf16 = Data(name.utf16.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] })
        if data.range(of: utf16) != nil || data.range(of: Data(name.utf8)) != nil { throw .protected(what) }
        throw .damaged(legacy)
    }

    /// Opens an OpenDocument package; one whose manifest declares encryption needs a password.
    static func openDocument(_ data: Data, kind: String, protected what: String) throws(LoadFailure) -> ZipContainer {
        let container = try ZipContainer(data, kind: kind)
        if let manifest = try container.xml("META-INF/manifest.xml") {
            defer { xmlFreeDoc(manifest) }
            if let root = xmlDocGetRootElement(manifest), !LibXML.descendants(root, named: "encryption-data").isEmpty {
                throw .protected(what)
            }
        }
        return container
    }

    func xml(_ path: String) throws(LoadFailure) -> xmlDocPtr? {
        guard let data = try data(path) else { return nil }
        let options = Int32(XML_PARSE_RECOVER.rawValue | XML_PARSE_NONET.rawValue | XML_PARSE_NOERROR.rawValue
                            | XML_PARSE_NOWARNING.rawValue | XML_PARSE_HUGE.rawValue)
        return data.withUnsafeBytes { LibXML.parse($0, name: path, encoding: nil, html: false, options: options) }
    }
}

/// Word documents (`.docx`): paragraphs, headings from paragraph styles (Title, Heading 1–9) as the
/// heading path, list items, tables as rows of `cell | cell`, footnotes at the end; images skipped.
public struct DOCXLoader: DocumentLoader {
    public let format = "docx"
    public let fileExtensions: Set<String> = ["docx"]
    public let version = "1"

    public init() {}

    public func load(_ data: Data, url: URL) throws(LoadFailure) -> ExtractedDocument {
        try ZipContainer.rejectCompoundFile(data, protected: "the Word document",
                                            legacy: "the file is an old binary Office file (Word 97–2003 .doc), not a .docx document")
        let container = try ZipContainer(data, kind: "DOCX")
        guard let document = try container.xml("word/document.xml") else { throw .damaged("no word/document.xml in the DOCX") }
        defer { xmlFreeDoc(document) }
        var builder = DocumentTextBuilder()
        var line = 1
        if let body = xmlDocGetRootElement(document).flatMap({ LibXML.children($0).first { LibXML.name($0) == "body" } }) {
            for node in LibXML.children(body) { visit(node, into: &builder, line: &line) }
        }
        if let footnotes = try container.xml("word/footnotes.xml") {
            defer { xmlFreeDoc(footnotes) }
            var texts: [String] = []
            if let root = xmlDocGetRootElement(footnotes) {
                for note in LibXML.children(root) where LibXML.name(note) == "footnote" {
                    let id = LibXML.attribute(note, "id") ?? ""
                    let text = LibXML.children(note).filter { LibXML.name($0) == "p" }.map(paragraphText).joined(separator: " ")
                        .trimmingCharacters(in: .whitespaces)
                    if !text.isEmpty && (Int(id) ?? 1) > 0 { texts.append("[\(id)] \(text)") }
                }
            }
            if !texts.isEmpty {
                builder.append(.heading, "Footnotes", line: line, level: 1)
                for text in texts { line += 1; builder.append(.paragraph, text, line: line) }
            }
        }
        guard !builder.blocks.isEmpty else { throw .noText }
        let title = builder.blocks.first { $0.kind == .heading }?.title
        return ExtractedDocument(format: format, encoding: "utf-8", title: title, text: builder.text, blocks: builder.blocks)
    }

    private func visit(_ node: xmlNodePtr, into builder: inout DocumentTextBuilder, line: inout Int) {
        switch LibXML.name(node) {
        case "p":
            let text = paragraphText(node)
            line += 1
            guard !text.trimmingCharacters(in: .whitespaces).isEmpty else { return }
            let properties = LibXML.children(node).first { LibXML.name($0) == "ppr" }
            let style = properties.flatMap { LibXML.children($0).first { LibXML.name($0) == "pstyle" } }
                .flatMap { LibXML.attribute($0, "val") }?.lowercased() ?? ""
            if style == "title" {
                builder.append(.heading, text, line: line, level: 1)
            } else if style.hasPrefix("heading"), let level = Int(style.dropFirst(7).filter(\.isNumber)) {
                builder.append(.heading, text, line: line, level: min(9, level + 1))
            } else if properties.map({ LibXML.children($0).contains { LibXML.name($0) == "numpr" } }) == true || style.contains("list") {
                builder.append(.listItem, "- " + text, line: line)
            } else {
                builder.append(.paragraph, text, line: line)
            }
        case "tbl":
            var rows: [String] = []
            for row in LibXML.children(node) where LibXML.name(row) == "tr" {
                let cells = LibXML.children(row).filter { LibXML.name($0) == "tc" }.map { cell in
                    LibXML.children(cell).filter { LibXML.name($0) == "p" }.map(paragraphText).joined(separator: " ")
                        .trimmingCharacters(in: .whitespaces)
                }
                if cells.contains(where: { !$0.isEmpty }) { rows.append(cells.joined(separator: " | ")) }
            }
            line += 1
            if !rows.isEmpty { builder.append(.table, rows.joined(separator: "\n"), line: line) }
        case "sdt", "sdtcontent", "customxml":
            for child in LibXML.children(node) { visit(child, into: &builder, line: &line) }
        default:
            return
        }
    }

    /// Text of a paragraph: runs' w:t, tabs and breaks; drawings and field codes skipped.
    private func paragraphText(_ paragraph: xmlNodePtr) -> String {
        var out = ""
        func walk(_ node: xmlNodePtr) {
            for child in LibXML.children(node) where child.pointee.type == XML_ELEMENT_NODE {
                switch LibXML.name(child) {
                case "t": out += LibXML.content(child)
                case "tab": out += "\t"
                case "br", "cr": out += "\n"
                case "drawing", "pict", "instrtext", "del", "footnotereference", "endnotereference": continue
                default: walk(child)
                }
            }
        }
        walk(paragraph)
        return out
    }
}

/// E-books (`.epub`): chapters in spine order, each read as HTML, with the book's title.
public struct EPUBLoader: DocumentLoader {
    public let format = "epub"
    public let fileExtensions: Set<String> = ["epub"]
    public let version = "1"

    public init() {}

    public func load(_ data: Data, url: URL) throws(LoadFailure) -> ExtractedDocument {
        let container = try ZipContainer(data, kind: "EPUB")
        guard let manifestDocument = try container.xml("META-INF/container.xml") else { throw .damaged("no META-INF/container.xml in the EPUB") }
        var opfPath: String?
        if let root = xmlDocGetRootElement(manifestDocument) {
            opfPath = LibXML.descendants(root, named: "rootfile").compactMap { LibXML.attribute($0, "full-path") }.first
        }
        xmlFreeDoc(manifestDocument)
        guard let opfPath, let opf = try container.xml(opfPath), let package = xmlDocGetRootElement(opf) else {
            throw .damaged("the EPUB names no readable package (OPF) file")
        }
        defer { xmlFreeDoc(opf) }
        let base = (opfPath as NSString).deletingLastPathComponent
        var manifest: [String: String] = [:]
        for item in LibXML.descendants(package, named: "item") {
            if let id = LibXML.attribute(item, "id"), let href = LibXML.attribute(item, "href") {
                let decoded = href.removingPercentEncoding ?? href
                manifest[id] = base.isEmpty ? decoded : (base as NSString).appendingPathComponent(decoded)
            }
        }
        let bookTitle = LibXML.descendants(package, named: "title").first.map { LibXML.content($0).trimmingCharacters(in: .whitespacesAndNewlines) }
        let spine = LibXML.descendants(package, named: "itemref").compactMap { LibXML.attribute($0, "idref") }.compactMap { manifest[$0] }
        var builder = DocumentTextBuilder()
        var line = 1
        for path in spine {
            guard let chapterData = try container.data(path),
                  let chapter = try? HTMLLoader().load(chapterData, url: URL(fileURLWithPath: "/" + path)) else { continue }
            let scalars = Array(chapter.text.unicodeScalars)
            // A chapter without headings is titled by its own <title>, when it has a distinct one.
            if !chapter.blocks.contains(where: { $0.kind == .heading }), let title = chapter.title, !title.isEmpty, title != bookTitle {
                builder.append(.heading, title, line: line, level: 1)
            }
            // Chapters are siblings: each chapter's top heading level becomes level 1.
            let shift = (chapter.blocks.filter { $0.kind == .heading }.map(\.level).min() ?? 1) - 1
            for block in chapter.blocks {
                builder.append(block.kind, String(String.UnicodeScalarView(scalars[block.range])), line: line + block.startLine - 1,
                               level: block.kind == .heading ? block.level - shift : block.level)
            }
            // Lines count through the chapters in spine order.
            line += chapter.blocks.map(\.startLine).max() ?? 1
        }
        guard !builder.blocks.isEmpty else { throw .noText }
        return ExtractedDocument(format: format, encoding: "utf-8", title: bookTitle, text: builder.text, blocks: builder.blocks)
    }
}
