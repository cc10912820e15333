-- Migration 5: where in its file a passage is, beyond lines and pages. `locator` is the place as citations show it
-- ("slide 3", "sheet Budget, rows 4-9", "p. 2, OCR"); `ocr_confidence` is tesseract's mean word confidence
-- (0-1) for passages read by OCR, NULL for passages from a text layer.
ALTER TABLE chunks ADD COLUMN locator text;
ALTER TABLE chunks ADD COLUMN ocr_confidence double precision;
