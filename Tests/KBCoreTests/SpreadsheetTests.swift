import Foundation
import Testing
@testable import KBCore
import KBTestSupport
import ZIPFoundation

private struct ArchiveUnavailable: Error {}

/// A ZIP archive of text members, written with ZIPFoundation.
private func makeSpreadsheetZip(_ members: [(String, String)]) throws -> Data {
    let archive = try Archive(data: Data(), accessMode: .create, pathEncoding: nil)
    for (path, text) in members {
        let data = Data(text.utf8)
        try archive.addEntry(with: path, type: .file, uncompressedSize: Int64(data.count), compressionMethod: .deflate) { position, size in
            data.subdata(in: Int(position)..<(Int(position) + size))
        }
    }
    guard let data = archive.data else { throw ArchiveUnavailable() }
    return data
}

@Suite struct SpreadsheetTests {
    static let main = "xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\" xmlns:r=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships\""

    /// Two worksheets (the second hidden, with an absolute target) and a chart sheet that must be skipped.
    static func workbook() throws -> Data {
        let workbook = """
            <?xml version="1.0" encoding="UTF-8" standalone="yes"?>
            <workbook \(main)><workbookPr defaultThemeVersion="124226"/>
            <sheets><sheet name="Staff" sheetId="1" r:id="rId1"/><sheet name="Chart" sheetId="3" r:id="rId3"/><sheet name="Notes" sheetId="2" state="hidden" r:id="rId2"/></sheets></workbook>
            """
        let relationships = """
            <?xml version="1.0" encoding="UTF-8" standalone="yes"?>
            <Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
            <Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>
            <Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="/xl/worksheets/sheet2.xml"/>
            <Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/chartsheet" Target="chartsheets/sheet1.xml"/>
            <Relationship Id="rId4" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/>
            <Relationship Id="rId5" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/>
            </Relationships>
            """
        let sharedStrings = """
            <?xml version="1.0" encoding="UTF-8" standalone="yes"?>
            <sst \(main) count="10" uniqueCount="10">
            <si><t>Name</t></si><si><t>Joined</t></si><si><t>Share</t></si><si><t>Salary</t></si><si><t>Active</t></si><si><t>Note</t></si>
            <si><t>王小明</t><rPh sb="0" eb="3"><t>ワンシャオミン</t></rPh><phoneticPr fontId="1"/></si>
            <si><r><rPr><b/><sz val="11"/></rPr><t>Bold</t></r><r><t xml:space="preserve"> and plain &amp; simple</t></r></si>
            <si><t>Alice Wong</t></si>
            <si><t>two_x000D_
            lines</t></si>
            </sst>
            """
        let styles = """
            <?xml version="1.0" encoding="UTF-8" standalone="yes"?>
            <styleSheet \(main)>
            <numFmts count="2"><numFmt numFmtId="164" formatCode="#,##0.00"/><numFmt numFmtId="165" formatCode="yyyy\\-mm\\-dd hh:mm"/></numFmts>
            <cellStyleXfs count="1"><xf numFmtId="14"/></cellStyleXfs>
            <cellXfs count="6"><xf numFmtId="0" xfId="0"/><xf numFmtId="14" xfId="0" applyNumberFormat="1"/><xf numFmtId="10" xfId="0" applyNumberFormat="1"/><xf numFmtId="164" xfId="0" applyNumberFormat="1"/><xf numFmtId="165" xfId="0"/><xf numFmtId="20" xfId="0"/></cellXfs>
            </styleSheet>
            """
        let staff = """
            <?xml version="1.0" encoding="UTF-8" standalone="yes"?>
            <worksheet \(main)><dimension ref="A1:H6"/><sheetData>
            <row r="1" spans="1:6"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c><c r="C1" t="s"><v>2</v></c><c r="D1" t="s"><v>3</v></c><c r="E1" t="s"><v>4</v></c><c r="F1" t="s"><v>5</v></c></row>
            <row r="2" spans="1:6"><c r="A2" t="s"><v>6</v></c><c r="B2" s="1"><v>45306</v></c><c r="C2" s="2"><v>0.125</v></c><c r="D2" s="3"><v>1234567.891</v></c><c r="E2" t="b"><v>1</v></c><c r="F2" t="inlineStr"><is><t>Inline note</t></is></c></row>
            <row r="3"><c r="A3" s="1"/><c r="B3" t="s"><v>99</v></c></row>
            <row r="5"><c r="A5" t="s"><v>7</v></c><c r="B5" s="4"><v>45306.75</v></c><c r="C5" t="e"><f>1/0</f><v>#DIV/0!</v></c><c r="D5"><v>42</v></c><c r="E5" t="str"><f>UPPER("x")</f><v>X</v></c><c r="F5" t="s"><v>9</v></c></row>
            <row r="6"><c><v>7</v></c><c t="s"><v>8</v></c><c r="G6"><v>0.30000000000000004</v></c><c r="H6" s="5"><v>0.5</v></c></row>
            </sheetData><pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" footer="0.3"/></worksheet>
            """
        let notes = """
            <?xml version="1.0" encoding="UTF-8" standalone="yes"?>
            <worksheet \(main)><sheetData>
            <row r="2"><c r="A2" t="inlineStr"><is><t>Code</t></is></c><c r="B2"><v>7</v></c></row>
            <row r="3"><c r="A3" t="inlineStr"><is><t>Zeta</t></is></c><c r="B3" t="inlineStr"><is><r><t>x</t></r></is></c></row>
            </sheetData></worksheet>
            """
        let core = """
            <?xml version="1.0" encoding="UTF-8" standalone="yes"?>
            <cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>Staff list</dc:title></cp:coreProperties>
            """
        return try makeSpreadsheetZip([
            ("[Content_Types].xml", "<Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\"/>"),
            ("xl/workbook.xml", workbook), ("xl/_rels/workbook.xml.rels", relationships), ("xl/sharedStrings.xml", sharedStrings),
            ("xl/styles.xml", styles), ("xl/worksheets/sheet1.xml", staff), ("xl/worksheets/sheet2.xml", notes),
            ("docProps/core.xml", core),
        ])
    }

    @Test func workbookRowsAsShown() throws {
        let document = try XLSXLoader().load(try Self.workbook(), url: URL(fileURLWithPath: "/staff.xlsx"))
        #expect(document.format == "xlsx")
        #expect(document.title == "Staff list")
        #expect(document.warnings.isEmpty)
        #expect(document.blocks.map(\.kind) == [.heading, .table, .table, .table, .heading, .table, .table])
        #expect(document.blocks.map { document.text(of: $0) } == [
            "Staff",
            "Name: 王小明\nJoined: 2024-01-15\nShare: 12.50%\nSalary: 1,234,567.89\nActive: TRUE\nNote: Inline note",
            "Name: Bold and plain & simple\nJoined: 2024-01-15 18:00\nShare: #DIV/0!\nSalary: 42\nActive: X\nNote: two lines",
            "Name: 7\nJoined: Alice Wong\nG: 0.3\nH: 12:00:00",
            "Notes",
            "A: Code\nB: 7",
            "A: Zeta\nB: x",
        ])
        #expect(document.blocks.map(\.startLine) == [1, 2, 5, 6, 2, 2, 3])
        #expect(document.blocks.map(\.endLine) == [1, 2, 5, 6, 2, 2, 3])
        #expect(document.blocks.map(\.level) == [1, 0, 0, 0, 1, 0, 0])
        let staff: BlockLocator? = .sheet("Staff")
        let notes: BlockLocator? = .sheet("Notes")
        #expect(document.blocks.map(\.locator) == [staff, staff, staff, staff, notes, notes, notes])
        #expect(!document.text.contains("ワン"))
        #expect(!document.text.contains("Chart"))

        let chunks = StructuredChunker().chunk(document)
        #expect(chunks.map(\.heading) == ["Staff", "Notes"])
        #expect(chunks.first?.locator == "sheet Staff, rows 2-6")
        #expect(chunks.last?.locator == "sheet Notes, rows 2-3")
    }

    @Test func numberFormats() {
        #expect(SpreadsheetNumberFormat.classify("General") == .general)
        #expect(SpreadsheetNumberFormat.classify("[Red]#,##0.0;-0") == .fixed(decimals: 1, grouping: true, percent: false))
        #expect(SpreadsheetNumberFormat.classify("0.0%") == .fixed(decimals: 1, grouping: false, percent: true))
        #expect(SpreadsheetNumberFormat.classify("\"Qty\" 0") == .fixed(decimals: 0, grouping: false, percent: false))
        #expect(SpreadsheetNumberFormat.classify("[h]:mm:ss") == .time(elapsed: true))
        #expect(SpreadsheetNumberFormat.classify("h:mm AM/PM") == .time(elapsed: false))
        #expect(SpreadsheetNumberFormat.classify("yyyy\"年\"m\"月\"d\"日\"") == .date(withTime: false))
        #expect(SpreadsheetNumberFormat.classify("[$-409]d-mmm-yy h:mm") == .date(withTime: true))
        #expect(SpreadsheetNumberFormat.classify("0.00E+00") == .scientific(decimals: 2))
        #expect(SpreadsheetNumberFormat.builtin(14) == .date(withTime: false))
        #expect(SpreadsheetNumberFormat.builtin(3) == .fixed(decimals: 0, grouping: true, percent: false))

        #expect(SpreadsheetNumberFormat.general.display(1e-5, date1904: false) == "0.00001")
        #expect(SpreadsheetNumberFormat.general.display(1e20, date1904: false) == "100000000000000000000")
        #expect(SpreadsheetNumberFormat.general.display(-2.5, date1904: false) == "-2.5")
        #expect(SpreadsheetNumberFormat.general.display(3, date1904: false) == "3")
        #expect(SpreadsheetNumberFormat.fixed(decimals: 0, grouping: true, percent: false).display(-1234.56, date1904: false) == "-1,235")
        #expect(SpreadsheetNumberFormat.fixed(decimals: 2, grouping: false, percent: false).display(-0.001, date1904: false) == "0.00")
        #expect(SpreadsheetNumberFormat.scientific(decimals: 2).display(123456, date1904: false) == "1.23E+05")
        #expect(SpreadsheetNumberFormat.date(withTime: false).display(45306, date1904: true) == "2028-01-16")
        #expect(SpreadsheetNumberFormat.date(withTime: false).display(1, date1904: false) == "1900-01-01")
        #expect(SpreadsheetNumberFormat.time(elapsed: true).display(1.25, date1904: false) == "30:00:00")
        #expect(SpreadsheetNumberFormat.time(elapsed: false).display(1.25, date1904: false) == "06:00:00")

        #expect(SpreadsheetLayout.columnLetters(1) == "A")
        #expect(SpreadsheetLayout.columnLetters(28) == "AB")
        #expect(SpreadsheetLayout.columnLetters(16_384) == "XFD")
        #expect(SpreadsheetLayout.columnIndex(reference: "XFD1048576") == 16_384)
        #expect(SpreadsheetLayout.columnIndex(reference: "$B$3") == 2)
        #expect(SpreadsheetLayout.columnIndex(reference: "12") == nil)
    }

    static let odsNamespaces = """
        xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" \
        xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" xmlns:dc="http://purl.org/dc/elements/1.1/" \
        xmlns:calcext="urn:org:documentfoundation:names:experimental:calc:xmlns:calcext:1.0"
        """

    static func spreadsheet(_ tables: String) throws -> Data {
        let content = """
            <?xml version="1.0" encoding="UTF-8"?>
            <office:document-content \(odsNamespaces) office:version="1.2"><office:body><office:spreadsheet>
            <table:calculation-settings table:automatic-find-labels="false"/>
            \(tables)
            <table:named-expressions/></office:spreadsheet></office:body></office:document-content>
            """
        return try makeSpreadsheetZip([
            ("mimetype", "application/vnd.oasis.opendocument.spreadsheet"),
            ("META-INF/manifest.xml", "<manifest:manifest xmlns:manifest=\"urn:oasis:names:tc:opendocument:xmlns:manifest:1.0\"><manifest:file-entry manifest:full-path=\"/\" manifest:media-type=\"application/vnd.oasis.opendocument.spreadsheet\"/><manifest:file-entry manifest:full-path=\"content.xml\" manifest:media-type=\"text/xml\"/></manifest:manifest>"),
            ("meta.xml", "<office:document-meta \(odsNamespaces)><office:meta><dc:title>Stock</dc:title></office:meta></office:document-meta>"),
            ("content.xml", content),
        ])
    }

    @Test func openDocumentRowsWithRepeats() throws {
        let tables = """
            <table:table table:name="Inventory"><table:table-column table:number-columns-repeated="5"/>
            <table:table-row><table:table-cell office:value-type="string" calcext:value-type="string"><text:p>Item</text:p></table:table-cell><table:table-cell><text:p>Count</text:p></table:table-cell><table:table-cell table:number-columns-repeated="2"/><table:table-cell office:value-type="string"><text:p>Place</text:p></table:table-cell></table:table-row>
            <table:table-row table:number-rows-repeated="2"><table:table-cell table:number-columns-repeated="1024"/></table:table-row>
            <table:table-row><table:table-cell office:value-type="string"><office:annotation><dc:creator>Ann</dc:creator><text:p>secret comment</text:p></office:annotation><text:p>Bolts<text:s text:c="2"/>M6</text:p></table:table-cell><table:table-cell office:value-type="float" office:value="1500"><text:p>1,500</text:p></table:table-cell><table:table-cell table:number-columns-repeated="2" office:value-type="string"><text:p>dup</text:p></table:table-cell><table:table-cell office:value-type="string"><text:p>Shelf <text:span text:style-name="T1">A</text:span></text:p><text:p>second<text:tab/>para</text:p></table:table-cell><table:table-cell table:number-columns-repeated="16000"/></table:table-row>
            <table:table-header-rows><table:table-row table:number-rows-repeated="2"><table:table-cell office:value-type="string"><text:p>Nuts</text:p></table:table-cell><table:table-cell office:value-type="date" office:date-value="2024-03-01"><text:p>01/03/2024</text:p></table:table-cell></table:table-row></table:table-header-rows>
            <table:table-row table:number-rows-repeated="1048000"><table:table-cell table:number-columns-repeated="1024"/></table:table-row>
            <table:table-row><table:table-cell office:value-type="string"><text:p>Washers<text:line-break/>zinc &amp; steel</text:p></table:table-cell></table:table-row>
            </table:table>
            <table:table table:name="Empty"><table:table-row table:number-rows-repeated="5"><table:table-cell table:number-columns-repeated="3"/></table:table-row></table:table>
            <table:table table:name="Merged"><table:table-row><table:table-cell table:number-columns-spanned="2" office:value-type="string"><text:p>Wide</text:p></table:table-cell><table:covered-table-cell/><table:table-cell office:value-type="float" office:value="3"><text:p>3</text:p></table:table-cell><table:table-cell office:value-type="float" office:value="4.5"/></table:table-row></table:table>
            """
        let document = try ODSLoader().load(try Self.spreadsheet(tables), url: URL(fileURLWithPath: "/stock.ods"))
        #expect(document.format == "ods")
        #expect(document.title == "Stock")
        #expect(document.blocks.map(\.kind) == [.heading, .table, .table, .table, .table, .heading, .table])
        #expect(document.blocks.map { document.text(of: $0) } == [
            "Inventory",
            "Item: Bolts  M6\nCount: 1,500\nC: dup\nD: dup\nPlace: Shelf A second\tpara",
            "Item: Nuts\nCount: 01/03/2024",
            "Item: Nuts\nCount: 01/03/2024",
            "Item: Washers zinc & steel",
            "Merged",
            "A: Wide\nC: 3\nD: 4.5",
        ])
        #expect(document.blocks.map(\.startLine) == [1, 4, 5, 6, 1_048_007, 1, 1])
        #expect(document.blocks.map(\.endLine) == [1, 4, 5, 6, 1_048_007, 1, 1])
        let inventory: BlockLocator? = .sheet("Inventory")
        let merged: BlockLocator? = .sheet("Merged")
        #expect(document.blocks.map(\.locator) == [inventory, inventory, inventory, inventory, inventory, merged, merged])
        #expect(!document.text.contains("secret comment"))
        #expect(document.warnings.isEmpty)
    }

    @Test func rowLimitIsReported() throws {
        #expect(SpreadsheetLayout.rowLimit == 100_000)
        let tables = """
            <table:table table:name="Big"><table:table-row table:number-rows-repeated="5"><table:table-cell office:value-type="string"><text:p>same</text:p></table:table-cell></table:table-row></table:table>
            <table:table table:name="Later"><table:table-row><table:table-cell office:value-type="string"><text:p>never read</text:p></table:table-cell></table:table-row></table:table>
            """
        let document = try ODSLoader(rowLimit: 3).load(try Self.spreadsheet(tables), url: URL(fileURLWithPath: "/big.ods"))
        #expect(document.warnings == ["sheet Big: only the first 3 rows were read"])
        #expect(document.blocks.map(\.startLine) == [1, 1, 2, 3])
        #expect(!document.text.contains("never read"))

        let relationship = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet"
        let rows = (1...4).map { "<row r=\"\($0)\"><c r=\"A\($0)\"><v>\($0)</v></c></row>" }.joined()
        let workbook = try makeSpreadsheetZip([
            ("xl/workbook.xml", "<workbook \(Self.main)><sheets><sheet name=\"One\" sheetId=\"1\" r:id=\"rId1\"/><sheet name=\"Two\" sheetId=\"2\" r:id=\"rId2\"/></sheets></workbook>"),
            ("xl/_rels/workbook.xml.rels", "<Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\"><Relationship Id=\"rId1\" Type=\"\(relationship)\" Target=\"worksheets/sheet1.xml\"/><Relationship Id=\"rId2\" Type=\"\(relationship)\" Target=\"worksheets/sheet2.xml\"/></Relationships>"),
            ("xl/worksheets/sheet1.xml", "<worksheet \(Self.main)><sheetData>\(rows)</sheetData></worksheet>"),
            ("xl/worksheets/sheet2.xml", "<worksheet \(Self.main)><sheetData><row r=\"1\"><c r=\"A1\" t=\"inlineStr\"><is><t>never read</t></is></c></row></sheetData></worksheet>"),
        ])
        let read = try XLSXLoader(rowLimit: 3).load(workbook, url: URL(fileURLWithPath: "/big.xlsx"))
        #expect(read.warnings == ["sheet One: only the first 3 rows were read", "sheet Two: not read (the workbook's first 3 rows were read)"])
        #expect(read.blocks.map { read.text(of: $0) } == ["One", "A: 1", "A: 2", "A: 3"])
    }

    @Test func damagedEncryptedAndEmptyFiles() throws {
        let xlsx = URL(fileURLWithPath: "/broken.xlsx")
        let noise = Data((0..<600).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) })
        #expect(throws: LoadFailure.damaged("not a readable XLSX (ZIP) container")) { try XLSXLoader().load(noise, url: xlsx) }
        #expect(throws: LoadFailure.damaged("not a readable ODS (ZIP) container")) {
            try ODSLoader().load(noise, url: URL(fileURLWithPath: "/broken.ods"))
        }

        let signature = Data([0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1])
        var encrypted = signature + Data(repeating: 0, count: 504)
        encrypted.append(Data("EncryptedPackage".utf16.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }))
        encrypted.append(Data(repeating: 0, count: 512))
        #expect(throws: LoadFailure.protected("the Excel workbook")) { try XLSXLoader().load(encrypted, url: xlsx) }
        let legacy = signature + Data(repeating: 0, count: 1024)
        #expect(throws: LoadFailure.damaged("the file is an old binary Office file (.xls), not an XLSX workbook")) {
            try XLSXLoader().load(legacy, url: xlsx)
        }

        let noWorkbook = try makeSpreadsheetZip([("[Content_Types].xml", "<Types/>")])
        #expect(throws: LoadFailure.damaged("no xl/workbook.xml in the XLSX")) { try XLSXLoader().load(noWorkbook, url: xlsx) }

        let emptySheets = try makeSpreadsheetZip([
            ("xl/workbook.xml", "<workbook \(Self.main)><sheets><sheet name=\"One\" sheetId=\"1\" r:id=\"rId1\"/></sheets></workbook>"),
            ("xl/_rels/workbook.xml.rels", "<Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\"><Relationship Id=\"rId1\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet\" Target=\"worksheets/sheet1.xml\"/></Relationships>"),
            ("xl/worksheets/sheet1.xml", "<worksheet \(Self.main)><sheetData><row r=\"1\"><c r=\"A1\" s=\"0\"/></row></sheetData></worksheet>"),
        ])
        #expect(throws: LoadFailure.noText) { try XLSXLoader().load(emptySheets, url: xlsx) }

        let encryptedODS = try makeSpreadsheetZip([
            ("mimetype", "application/vnd.oasis.opendocument.spreadsheet"),
            ("META-INF/manifest.xml", "<manifest:manifest xmlns:manifest=\"urn:oasis:names:tc:opendocument:xmlns:manifest:1.0\"><manifest:file-entry manifest:full-path=\"content.xml\" manifest:media-type=\"text/xml\"><manifest:encryption-data manifest:checksum-type=\"urn:oasis:names:tc:opendocument:xmlns:manifest:1.0#sha256-1k\" manifest:checksum=\"AAAA\"><manifest:algorithm manifest:algorithm-name=\"http://www.w3.org/2001/04/xmlenc#aes256-cbc\"/></manifest:encryption-data></manifest:file-entry></manifest:manifest>"),
            ("content.xml", "\u{01}\u{02} not xml"),
        ])
        #expect(throws: LoadFailure.protected("the OpenDocument spreadsheet")) {
            try ODSLoader().load(encryptedODS, url: URL(fileURLWithPath: "/secret.ods"))
        }
    }

    @Test func aQuestionAboutACellFindsItsRow() async throws {
        let folder = TemporaryFolder()
        folder.write("docs/staff.xlsx", try Self.workbook())
        let kb = try folder.knowledgeBase()
        let summary = try await kb.ingest(embed: false)
        #expect(summary.failed.isEmpty)
        let hit = try await #require(try kb.search("Inline note").results.first)
        #expect(hit.path.hasSuffix("staff.xlsx"))
        #expect(hit.heading == "Staff")
        #expect(hit.text.contains("Note: Inline note"))
        #expect(hit.locator?.hasPrefix("sheet Staff, row") == true)
    }
}
