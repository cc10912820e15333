import Foundation
import Testing
@testable import KBCore
import KBTestSupport

@Suite struct RTFTests {
    static let chinese = #"""
        {\rtf1\ansi\ansicpg936\deff0
        {\fonttbl{\f0\fswiss\fcharset0 Arial;}{\f1\fnil\fcharset134 \'cb\'ce\'cc\'e5;}}
        {\colortbl;\red0\green0\blue0;}
        {\stylesheet{\s0 Normal;}{\s1\sbasedon0\snext0 heading 1;}{\*\cs10 Default Paragraph Font;}}
        {\*\generator Riched20 10.0.19041;}
        {\info{\title Quarterly \'b1\'a8\'b8\'e6}{\author Someone}}
        \viewkind4\uc1
        \pard\s1 Introduction\par
        \pard\plain Plain text with {\f1 \'d6\'d0\'ce\'c4} inside.\par
        \pard Unicode \u20013?\u25991? here, {\uc2\u22269\'b9\'fa} and \u-255?.\par
        {\pict\pngblip\picw10\pich10 89504e470d0a1a0a0000000d49484452}
        \pard\outlinelevel1 Details\par
        \trowd\cellx1000\cellx2000\pard\intbl Name\cell Value\cell\row
        \trowd\cellx1000\cellx2000\pard\intbl Alpha\cell 42\cell\row
        \pard Line one\line Line two\tab tabbed\par
        a\~b co\-operate x\_y \{braces\} back\\slash\par
        }
        """#

    @Test func codePagesUnicodeHeadingsAndTables() throws {
        let document = try RTFLoader().load(Data(Self.chinese.utf8), url: URL(fileURLWithPath: "/report.rtf"))
        let texts = document.blocks.map { document.text(of: $0) }
        #expect(texts == [
            "Introduction",
            "Plain text with 中文 inside.",
            "Unicode 中文 here, 国 and ！.",
            "Details",
            "Name | Value\nAlpha | 42",
            "Line one\nLine two\ttabbed",
            "a\u{00A0}b cooperate x-y {braces} back\\slash",
        ])
        #expect(document.blocks.map(\.kind) == [.heading, .paragraph, .paragraph, .heading, .table, .paragraph, .paragraph])
        #expect(document.blocks.filter { $0.kind == .heading }.map(\.level) == [1, 2])
        #expect(document.blocks.map(\.startLine) == [1, 2, 3, 4, 5, 7, 8])
        #expect(document.title == "Quarterly 报告")
        #expect(document.encoding == "gb18030")
        for skipped in ["Arial", "Normal", "Riched20", "Someone", "89504e47", "Default Paragraph Font", "宋体"] {
            #expect(!document.text.contains(skipped), "\(skipped) should be skipped")
        }
    }

    @Test func westernListsAndUnbalancedBraces() throws {
        let rtf = #"""
            {\rtf1\ansi\deff0{\fonttbl{\f0\froman Times;}}
            \pard Caf\'e9 cr\'e8me\par
            \pard{\listtext\'95\tab}\ls1 Item one\par
            \pard {\*\bkmkstart x}Second {\b bold} part
            """#
        let document = try RTFLoader().load(Data(rtf.utf8), url: URL(fileURLWithPath: "/w.rtf"))
        #expect(document.blocks.map { document.text(of: $0) } == ["Café crème", "- Item one", "Second bold part"])
        #expect(document.blocks.map(\.kind) == [.paragraph, .listItem, .paragraph])
        #expect(document.title == nil)
        #expect(document.encoding == "windows-1252")
    }

    @Test func notRTFAndEmptyRTF() {
        #expect(throws: LoadFailure.damaged("not an RTF file (no {\\rtf header)")) {
            try RTFLoader().load(Data("Just text, not RTF.".utf8), url: URL(fileURLWithPath: "/x.rtf"))
        }
        #expect(throws: LoadFailure.noText) {
            try RTFLoader().load(Data(#"{\rtf1{\fonttbl{\f0 Arial;}}{\*\generator x;}}"#.utf8), url: URL(fileURLWithPath: "/e.rtf"))
        }
    }
}

@Suite struct MailTests {
    static let message = """
        Return-Path: <zhang@example.com>
        From: =?GBK?B?1cXI/Q==?= <zhang@example.com>
        To: Bob <bob@example.com>
        Subject: =?UTF-8?Q?Caf=C3=A9_meeting?=
         =?UTF-8?Q?_notes?=
        Date: Mon, 3 Jun 2024 10:00:00 +0000
        MIME-Version: 1.0
        Content-Type: multipart/mixed; boundary="outer-boundary"

        This is a multi-part message in MIME format.
        --outer-boundary
        Content-Type: multipart/alternative; boundary=inner

        --inner
        Content-Type: text/plain; charset=utf-8
        Content-Transfer-Encoding: quoted-printable

        The budget for the caf=C3=A9 is appro=
        ved by the board.

        > Earlier quoted line.

        --\u{20}
        Alice Signature
        --inner
        Content-Type: text/html; charset=utf-8

        <html><body><p>HTML version only</p></body></html>
        --inner--
        --outer-boundary
        Content-Type: text/csv; name="staff.csv"
        Content-Disposition: attachment; filename="staff.csv"
        Content-Transfer-Encoding: base64

        bmFtZSxkZXBhcnRtZW50CkFsaWNlIFdvbmcsUmFkaW9sb2d5Cg==
        --outer-boundary
        Content-Type: application/zip
        Content-Disposition: attachment; filename*=utf-8''%E8%B5%84%E6%96%99.zip
        Content-Transfer-Encoding: base64

        UEsDBA==
        --outer-boundary--
        Epilogue text that is ignored.

        """

    @Test func multipartMessageWithAttachments() throws {
        let data = Data(Self.message.replacingOccurrences(of: "\n", with: "\r\n").utf8)
        let document = try MailLoader().load(data, url: URL(fileURLWithPath: "/m.eml"), context: LoadContext(registry: .standard))
        let texts = document.blocks.map { document.text(of: $0) }
        #expect(texts == [
            "Café meeting notes",
            "From: 张三 <zhang@example.com>\nTo: Bob <bob@example.com>\nDate: Mon, 3 Jun 2024 10:00:00 +0000\nAttached: staff.csv\nAttachments: 资料.zip",
            "The budget for the café is approved by the board.",
            "> Earlier quoted line.",
        ])
        #expect(document.blocks.map(\.kind) == [.heading, .paragraph, .paragraph, .paragraph])
        #expect(document.blocks.map(\.startLine) == [1, 1, 18, 21])
        // The attachment kb can read is a document of its own, linked to the message by its title and path.
        #expect(document.attachments.map(\.name) == ["staff.csv"])
        let staff = try #require(document.attachments.first?.document)
        #expect(staff.text == "name: Alice Wong\ndepartment: Radiology")
        #expect(staff.title == "staff (attached to “Café meeting notes”)")
        #expect(document.title == "Café meeting notes")
        #expect(document.warnings.isEmpty)
        for dropped in ["HTML version only", "Alice Signature", "Epilogue", "multi-part message"] {
            #expect(!document.text.contains(dropped), "\(dropped) should not be indexed")
        }
        // Without loaders for attachments, they are listed.
        let plain = try MailLoader().load(data, url: URL(fileURLWithPath: "/m.eml"))
        #expect(plain.text.contains("Attachments: staff.csv, 资料.zip"))
        #expect(!plain.text.contains("Alice Wong"))
    }

    @Test func htmlOnlyAlternativeAndTruncatedMIME() throws {
        let html = """
            From: a@example.com
            Subject: HTML only
            Content-Type: multipart/alternative; boundary="b1"

            --b1
            Content-Type: text/html; charset="iso-8859-1"
            Content-Transfer-Encoding: quoted-printable

            <html><body><h1>News</h1><p>Caf=E9 opens at nine.</p></body></html>
            --b1--
            """
        let document = try MailLoader().load(Data(html.utf8), url: URL(fileURLWithPath: "/h.eml"))
        #expect(document.blocks.filter { $0.kind == .heading }.map(\.title) == ["HTML only", "News"])
        #expect(document.blocks.filter { $0.kind == .heading }.map(\.level) == [1, 2])
        #expect(document.text.contains("Café opens at nine."))

        let truncated = """
            From: x@example.com
            Subject: Truncated
            Content-Type: multipart/mixed; boundary=zz

            --zz
            Content-Type: text/plain

            Body survives.
            --zz
            Content-Type: text/plain; name="notes.txt"
            Content-Transfer-Encoding: base64

            SGVsbG8gd2
            """
        let partial = try MailLoader().load(Data(truncated.utf8), url: URL(fileURLWithPath: "/t.eml"), context: LoadContext(registry: .standard))
        #expect(partial.text.contains("Body survives."))
        #expect(partial.attachments.first?.name == "notes.txt")
        #expect(partial.attachments.first?.document.text == "Hello w")
    }

    @Test func mboxMessagesAreSections() throws {
        let mbox = """
            From alice@example.com Mon Jun  3 10:00:00 2024
            From: Alice <alice@example.com>
            Subject: First

            Hello from the first message.
            >From the archives, a quote.

            From bob@example.com Tue Jun  4 11:00:00 2024
            From: Bob <bob@example.com>
            Subject: Second

            Second message body.

            """
        let document = try MailLoader().load(Data(mbox.utf8), url: URL(fileURLWithPath: "/archive.mbox"))
        #expect(document.blocks.map { document.text(of: $0) } == [
            "First", "From: Alice <alice@example.com>", "Hello from the first message.\nFrom the archives, a quote.",
            "Second", "From: Bob <bob@example.com>", "Second message body.",
        ])
        #expect(document.blocks.map(\.startLine) == [1, 2, 5, 8, 9, 12])
        #expect(document.blocks.filter { $0.kind == .heading }.map(\.level) == [1, 1])
        #expect(document.title == nil)
    }

    @Test func notMail() {
        #expect(throws: LoadFailure.malformed("no e-mail headers at the start of the file")) {
            try MailLoader().load(Data("Just some notes\nwithout any headers\n".utf8), url: URL(fileURLWithPath: "/n.eml"))
        }
        #expect(throws: LoadFailure.noText) {
            try MailLoader().load(Data("\n\n".utf8), url: URL(fileURLWithPath: "/e.eml"))
        }
    }

    @Test func headerDecoding() {
        #expect(MailLoader.decodeHeader(Array("=?utf-8?B?5Lit?= =?utf-8?B?5paH?= and =?ISO-8859-1?Q?caf=E9?=".utf8)) == "中文 and café")
        #expect(MailLoader.decodeHeader(Array("Raw UTF-8 名字".utf8)) == "Raw UTF-8 名字")
        let parameters = MailLoader.parameters(Array("attachment; filename*0*=utf-8''%E4%B8%AD; filename*1=.txt; size=3".utf8))
        #expect(parameters.value == "attachment")
        #expect(parameters.parameters["filename"] == "中.txt")
        #expect(MailLoader.base64Decode(Array("SGVsbG8=\r\nIQ".utf8)) == Array("Hello!".utf8))
    }

    @Test func aQuestionFindsTheMessage() async throws {
        let folder = TemporaryFolder()
        folder.write("docs/mail.eml", Self.message)
        let kb = try folder.knowledgeBase()
        _ = try await kb.ingest(embed: false)
        let hit = try await #require(try kb.search("budget approved by the board").results.first)
        #expect(hit.path.hasSuffix("mail.eml"))
        #expect(hit.text.contains("The budget for the café is approved by the board."))
        #expect(hit.heading.contains("Café meeting notes"))
    }

    @Test func attachmentsAreDocumentsThatLiveAndGoWithTheirMessage() async throws {
        let folder = TemporaryFolder()
        folder.write("docs/mail.eml", Self.message)
        let kb = try folder.knowledgeBase()
        let first = try await kb.ingest(embed: false)
        #expect(first.added == 1)
        let paths = try await kb.documents().map { ($0.path as NSString).lastPathComponent }.sorted()
        #expect(paths == ["mail.eml", "mail.eml › staff.csv"])
        let hit = try #require(try await kb.search("Radiology").results.first)
        #expect(hit.path.hasSuffix("/docs/mail.eml › staff.csv"))
        #expect(hit.title == "staff (attached to “Café meeting notes”)")
        // Unchanged: both stay; nothing is read.
        let second = try await kb.ingest(embed: false)
        #expect(second.unchanged == 1 && second.removed == 0)
        #expect(try await kb.documents().count == 2)
        // Moved: the attachment moves with its message.
        folder.move("docs/mail.eml", "docs/inbox/mail.eml")
        let moved = try await kb.ingest(embed: false)
        #expect(moved.moved == 1)
        #expect(try await kb.documents().map(\.path).sorted() == [folder.path + "/docs/inbox/mail.eml", folder.path + "/docs/inbox/mail.eml › staff.csv"])
        // Changed without the attachment: it leaves the index.
        folder.write("docs/inbox/mail.eml", "From: a@example.com\nSubject: Short\n\nNo attachments now.\n")
        _ = try await kb.ingest(embed: false)
        #expect(try await kb.documents().map { ($0.path as NSString).lastPathComponent } == ["mail.eml"])
        await #expect(try kb.search("Radiology").results.isEmpty)
        // Deleted: the message and anything attached go.
        folder.write("docs/inbox/mail.eml", Self.message)
        _ = try await kb.ingest(embed: false)
        #expect(try await kb.documents().count == 2)
        folder.remove("docs/inbox/mail.eml")
        let gone = try await kb.ingest(embed: false)
        #expect(gone.removed == 1)
        #expect(try await kb.documents().isEmpty)
        await #expect(try kb.consistencyProblems().isEmpty)
    }
}
