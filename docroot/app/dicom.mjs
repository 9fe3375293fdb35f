/**
 * DICOM archive panel: studies from QIDO-RS (`/dicom/studies`, PatientName search with
 * wildcards), series per study, "load into scene" (`POST /slicer/dicom/load`) and a link that
 * opens the study in OHIF (`/browse/viewer?StudyInstanceUIDs=`).
 */
import { api, explain, h, say } from './api.mjs';

const $ = (id) => document.getElementById(id);

/** First value of a DICOM JSON attribute (PN → its Alphabetic form). */
export function tag(obj, t) {
  const v = obj?.[t]?.Value?.[0];
  if (v && typeof v === 'object' && 'Alphabetic' in v) return v.Alphabetic;
  return v;
}
const all = (obj, t) => obj?.[t]?.Value ?? [];

const T = {
  StudyInstanceUID: '0020000D',
  SeriesInstanceUID: '0020000E',
  PatientName: '00100010',
  PatientID: '00100020',
  StudyDate: '00080020',
  StudyDescription: '00081030',
  ModalitiesInStudy: '00080061',
  NumberOfStudyRelatedSeries: '00201206',
  NumberOfStudyRelatedInstances: '00201208',
  Modality: '00080060',
  SeriesDescription: '0008103E',
  SeriesNumber: '00200011',
  NumberOfSeriesRelatedInstances: '00201209',
};

const personName = (pn) => (pn ? String(pn).replace(/\^+/g, ', ').replace(/, $/, '') : 'Anonymous');
const dicomDate = (d) =>
  d && /^\d{8}$/.test(d) ? `${d.slice(0, 4)}-${d.slice(4, 6)}-${d.slice(6)}` : (d ?? '');

export class DicomPanel {
  constructor(app) {
    this.app = app;
    this.msg = $('dicom-msg');
    $('dicom-search').addEventListener('submit', (e) => {
      e.preventDefault();
      this.search($('dicom-q').value.trim());
    });
  }

  available() {
    return !api.status || api.status.dicomArchive !== false;
  }

  async search(q = '') {
    const ul = $('studies');
    if (!this.available()) {
      say(
        this.msg,
        api.status?.dicom === false
          ? 'The DICOM archive is turned off on this server (--no-dicom).'
          : 'This server has no DICOM archive yet (/dicom).',
      );
      ul.replaceChildren();
      return;
    }
    const query = { limit: '50', includefield: '00081030,00080061' };
    if (q) query.PatientName = /[*?]/.test(q) ? q : `*${q}*`;
    say(this.msg, 'Searching…');
    try {
      const res = await api.request('GET', 'dicom/studies', {
        query,
        headers: { accept: 'application/dicom+json' },
      });
      const text = await res.text();
      const studies = text ? JSON.parse(text) : [];
      const warning = res.headers.get('warning');
      say(
        this.msg,
        studies.length === 0
          ? q
            ? `No study matches “${q}”.`
            : 'The archive is empty.'
          : warning
            ? `Showing the first ${studies.length} studies.`
            : '',
      );
      ul.replaceChildren(...studies.map((s) => this.#study(s)));
    } catch (e) {
      ul.replaceChildren();
      say(this.msg, explain(e, 'DICOM search'), 'error');
    }
  }

  #study(s) {
    const uid = tag(s, T.StudyInstanceUID);
    const series = h('ul', { class: 'series', hidden: true });
    const toggle = h(
      'button',
      {
        type: 'button',
        'aria-expanded': 'false',
        'aria-label': `Series of ${personName(tag(s, T.PatientName))}`,
      },
      'Series',
    );
    toggle.addEventListener('click', async () => {
      const open = toggle.getAttribute('aria-expanded') !== 'true';
      toggle.setAttribute('aria-expanded', String(open));
      series.hidden = !open;
      if (open && !series.dataset.loaded) await this.#loadSeries(uid, series);
    });
    const ohif = h(
      'a',
      {
        href: `browse/viewer?StudyInstanceUIDs=${encodeURIComponent(uid)}`,
        target: '_blank',
        rel: 'noopener',
        title:
          api.status?.ohif === false
            ? 'OHIF is not installed yet: the page says how (npm run ohif:install)'
            : 'Open this study in OHIF',
      },
      'Open in OHIF',
    );
    const nSeries = tag(s, T.NumberOfStudyRelatedSeries);
    const nInst = tag(s, T.NumberOfStudyRelatedInstances);
    return h(
      'li',
      { 'data-study': uid },
      h(
        'div',
        { class: 'who' },
        personName(tag(s, T.PatientName)),
        h('span', { class: 'meta' }, tag(s, T.PatientID) ? ` · ${tag(s, T.PatientID)}` : ''),
      ),
      h(
        'div',
        { class: 'meta' },
        [
          dicomDate(tag(s, T.StudyDate)),
          all(s, T.ModalitiesInStudy).join('/'),
          tag(s, T.StudyDescription),
        ]
          .filter(Boolean)
          .join(' · '),
      ),
      h('div', { class: 'meta' }, `${nSeries ?? '?'} series, ${nInst ?? '?'} images`),
      h('div', { class: 'actions' }, toggle, ohif),
      series,
    );
  }

  async #loadSeries(studyUid, ul) {
    ul.replaceChildren(h('li', { class: 'empty' }, 'Loading…'));
    try {
      const res = await api.request('GET', `dicom/studies/${encodeURIComponent(studyUid)}/series`, {
        headers: { accept: 'application/dicom+json' },
      });
      const text = await res.text();
      const list = (text ? JSON.parse(text) : []).sort(
        (a, b) => (tag(a, T.SeriesNumber) ?? 0) - (tag(b, T.SeriesNumber) ?? 0),
      );
      ul.dataset.loaded = '1';
      const canLoad = api.has('POST', '/slicer/dicom/load');
      ul.replaceChildren(
        ...list.map((se) => {
          const seUid = tag(se, T.SeriesInstanceUID);
          const label = `${tag(se, T.Modality) ?? ''} #${tag(se, T.SeriesNumber) ?? '?'} ${tag(se, T.SeriesDescription) ?? ''} (${tag(se, T.NumberOfSeriesRelatedInstances) ?? '?'} images)`;
          const btn = h(
            'button',
            {
              type: 'button',
              title: canLoad
                ? 'Load this series into the scene as a volume'
                : 'Needs POST /slicer/dicom/load, which this server does not have yet',
              'aria-label': `Load series ${label} into the scene`,
            },
            'Load into scene',
          );
          btn.disabled = !canLoad;
          btn.addEventListener('click', () => this.#load(studyUid, seUid, btn));
          return h('li', { 'data-series': seUid }, h('span', {}, label), btn);
        }),
      );
      if (list.length === 0) ul.replaceChildren(h('li', { class: 'empty' }, 'No series.'));
    } catch (e) {
      ul.replaceChildren(h('li', { class: 'empty' }, explain(e, 'Series')));
    }
  }

  async #load(study, series, btn) {
    btn.disabled = true;
    say(this.msg, 'Loading the series into the scene…');
    try {
      const r = await api.json('POST', 'slicer/dicom/load', {
        query: { studyInstanceUID: study, seriesInstanceUID: series },
      });
      say(this.msg, `Loaded into the scene${r?.name ? ` as ${r.name}` : ''}.`);
      await this.app.sceneChanged();
    } catch (e) {
      say(this.msg, explain(e, 'Load into scene'), 'error');
    } finally {
      btn.disabled = false;
    }
  }
}
