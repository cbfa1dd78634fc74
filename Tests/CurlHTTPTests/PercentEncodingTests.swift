import CurlHTTP
import XCTest

final class PercentEncodingTests: XCTestCase {
    func test_unreserved_characters_stay_and_every_other_byte_is_encoded_uppercase() {
        XCTAssertEqual(PercentEncoding.encode("AZaz09-._~"), "AZaz09-._~")
        XCTAssertEqual(PercentEncoding.encode("a b/c?d=e&f"), "a%20b%2Fc%3Fd%3De%26f")
        XCTAssertEqual(PercentEncoding.encode("tag:Name"), "tag%3AName")
        XCTAssertEqual(PercentEncoding.encode("é"), "%C3%A9", "UTF-8 bytes, not scalars")
        XCTAssertEqual(PercentEncoding.encode("+*"), "%2B%2A", "AWS SigV4 wants + and * encoded")
        XCTAssertEqual(PercentEncoding.encode(""), "")
    }
}
