// Shrinking a large picture on the phone before it is uploaded.
//
// Pictures up to SHRINK_ABOVE bytes are sent as taken, so the server reads their EXIF
// time and GPS untouched. Larger ones are drawn onto a canvas at most LONG_EDGE pixels
// long and saved as JPEG; a canvas keeps no metadata, so the original's EXIF block is
// copied into the new file (with its orientation reset to "upright", since the canvas
// has already turned the pixels), and the server's photo time and place checks still work.
export const SHRINK_ABOVE = 2.5 * 1024 * 1024;
export const LONG_EDGE = 2560;
const QUALITY = 0.85;

export async function prepare(file) {
  if (file.size <= SHRINK_ABOVE || !/^image\/(jpeg|png|webp)$/.test(file.type)) return { blob: file, shrunk: false };
  try {
    const bitmap = await createImageBitmap(file, { imageOrientation: 'from-image' });
    const scale = Math.min(1, LONG_EDGE / Math.max(bitmap.width, bitmap.height));
    const width = Math.round(bitmap.width * scale), height = Math.round(bitmap.height * scale);
    const canvas = document.createElement('canvas');
    canvas.width = width; canvas.height = height;
    canvas.getContext('2d').drawImage(bitmap, 0, 0, width, height);
    bitmap.close();
    let blob = await new Promise((resolve) => canvas.toBlob(resolve, 'image/jpeg', QUALITY));
    if (!blob || blob.size >= file.size) return { blob: file, shrunk: false };
    if (file.type === 'image/jpeg') blob = await withExif(blob, await exifSegment(file));
    return { blob, shrunk: true };
  } catch (e) {
    console.warn('could not shrink the picture; sending it as it is', e);
    return { blob: file, shrunk: false };
  }
}

// The APP1 "Exif" segment of a JPEG (marker included), or null.
async function exifSegment(file) {
  const head = new Uint8Array(await file.slice(0, 256 * 1024).arrayBuffer());
  if (head[0] !== 0xff || head[1] !== 0xd8) return null;
  let i = 2;
  while (i + 4 < head.length && head[i] === 0xff) {
    const marker = head[i + 1];
    const length = (head[i + 2] << 8) | head[i + 3];
    if (marker === 0xda) break; // start of scan: no more metadata
    if (marker === 0xe1 && head[i + 4] === 0x45 && head[i + 5] === 0x78 && head[i + 6] === 0x69 && head[i + 7] === 0x66) {
      if (i + 2 + length > head.length) return null;
      const segment = head.slice(i, i + 2 + length);
      resetOrientation(segment);
      return segment;
    }
    i += 2 + length;
  }
  return null;
}

// Sets tag 0x0112 (Orientation) of IFD0 to 1, in place.
function resetOrientation(segment) {
  const tiff = 10; // FF E1 len(2) "Exif\0\0"
  const view = new DataView(segment.buffer, segment.byteOffset, segment.byteLength);
  const little = view.getUint16(tiff) === 0x4949;
  const ifd = tiff + view.getUint32(tiff + 4, little);
  if (ifd + 2 > segment.length) return;
  const count = view.getUint16(ifd, little);
  for (let n = 0; n < count; n += 1) {
    const entry = ifd + 2 + n * 12;
    if (entry + 12 > segment.length) return;
    if (view.getUint16(entry, little) === 0x0112) { view.setUint16(entry + 8, 1, little); return; }
  }
}

// The JPEG with the EXIF segment put right after its start marker (replacing any APP0 JFIF).
async function withExif(blob, segment) {
  if (!segment) return blob;
  const bytes = new Uint8Array(await blob.arrayBuffer());
  let rest = 2;
  if (bytes[2] === 0xff && bytes[3] === 0xe0) rest = 4 + ((bytes[4] << 8) | bytes[5]);
  return new Blob([bytes.slice(0, 2), segment, bytes.slice(rest)], { type: 'image/jpeg' });
}
