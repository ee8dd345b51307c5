"""pyHanko (Python API) helper for tests/it/pades_certify.rs. TEST ONLY.

  info FILE ROOT                          per signature: field, DocMDP level, pyHanko summary
  certify P IN OUT KEY CERT CHAIN         a pyHanko certification signature (field Cert1) at P
  sign FIELD IN OUT KEY CERT CHAIN FORCE  an approval signature (FIELD may be PAGE/X1,Y1,X2,Y2/NAME
                                          for a new visible field); FORCE=1 skips pyHanko's
                                          refusal to sign a document certified with P=1
  annot IN OUT                            an incremental update adding a /Text annotation
"""
import sys

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.fields import MDPPerm


def signer(key, cert, chain):
    return signers.SimpleSigner.load(key, cert, ca_chain_files=(chain,))


def main(argv):
    mode = argv[0]
    if mode == 'info':
        from pyhanko.sign.validation import validate_pdf_signature
        from pyhanko_certvalidator import ValidationContext
        from pyhanko.keys import load_cert_from_pemder

        path, root = argv[1:3]
        with open(path, 'rb') as f:
            r = PdfFileReader(f)
            for sig in r.embedded_regular_signatures:
                vc = ValidationContext(
                    trust_roots=[load_cert_from_pemder(root)], allow_fetching=False,
                    revocation_mode='soft-fail')
                st = validate_pdf_signature(sig, vc)
                level = sig.docmdp_level
                print(f"{sig.field_name} docmdp={level.value if level else None} "
                      f"docmdp_ok={st.docmdp_ok} summary={st.summary()}")
    elif mode == 'certify':
        p, inp, out, key, cert, chain = argv[1:7]
        meta = signers.PdfSignatureMetadata(
            field_name='Cert1', certify=True, docmdp_permissions=MDPPerm(int(p)),
            subfilter=fields.SigSeedSubFilter.PADES)
        with open(inp, 'rb') as f, open(out, 'wb') as o:
            signers.sign_pdf(IncrementalPdfFileWriter(f), meta, signer=signer(key, cert, chain), output=o)
    elif mode == 'sign':
        field, inp, out, key, cert, chain, force = argv[1:8]
        if force == '1':
            from pyhanko.sign.signers import pdf_signer
            pdf_signer.PdfSigner._enforce_certification_constraints = lambda self, reader: None
        spec = None
        if '/' in field:  # PAGE/X1,Y1,X2,Y2/NAME: a new visible field
            page, box, field = field.split('/')
            spec = fields.SigFieldSpec(
                field, on_page=int(page) - 1, box=tuple(int(n) for n in box.split(',')))
        meta = signers.PdfSignatureMetadata(field_name=field, subfilter=fields.SigSeedSubFilter.PADES)
        with open(inp, 'rb') as f, open(out, 'wb') as o:
            signers.sign_pdf(IncrementalPdfFileWriter(f), meta, signer=signer(key, cert, chain),
                             output=o, new_field_spec=spec)
    elif mode == 'annot':
        inp, out = argv[1:3]
        with open(inp, 'rb') as f:
            w = IncrementalPdfFileWriter(f)
            page_ref = w.root['/Pages']['/Kids'][0]
            page = page_ref.get_object()
            annot = generic.DictionaryObject({
                generic.NameObject('/Type'): generic.NameObject('/Annot'),
                generic.NameObject('/Subtype'): generic.NameObject('/Text'),
                generic.NameObject('/Rect'): generic.ArrayObject(
                    [generic.NumberObject(n) for n in (100, 700, 120, 720)]),
                generic.NameObject('/Contents'): generic.TextStringObject('Ghi chu'),
                generic.NameObject('/P'): page_ref,
            })
            annot_ref = w.add_object(annot)
            annots = page.get('/Annots')
            if annots is None:
                page[generic.NameObject('/Annots')] = generic.ArrayObject([annot_ref])
            else:
                annots = annots.get_object()
                annots.append(annot_ref)
            w.update_container(page)
            if '/Annots' in page and isinstance(page.raw_get('/Annots'), generic.IndirectObject):
                w.update_container(page['/Annots'])
            with open(out, 'wb') as o:
                w.write(o)
    else:
        raise SystemExit(f'unknown mode {mode}')


if __name__ == '__main__':
    main(sys.argv[1:])
