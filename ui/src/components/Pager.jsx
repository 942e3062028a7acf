// Paging with the API's cursors: the cursors of the pages before this one
// are kept, so "Previous" goes back the way "Next" came.

import { useState } from 'react';

/** The current page's cursor, and moves between pages; `restart` goes back to the first. */
export function useCursorPages() {
  const [before, setBefore] = useState([]);
  const [cursor, setCursor] = useState(null);
  return {
    cursor,
    hasPrevious: before.length > 0,
    next: (nextCursor) => {
      setBefore([...before, cursor]);
      setCursor(nextCursor);
    },
    previous: () => {
      setCursor(before[before.length - 1]);
      setBefore(before.slice(0, -1));
    },
    restart: () => {
      setBefore([]);
      setCursor(null);
    },
  };
}

export function Pager({ pages, nextCursor, label }) {
  return (
    <nav className="pager" aria-label={label}>
      <button type="button" disabled={!pages.hasPrevious} onClick={pages.previous}>
        Previous page
      </button>
      <button type="button" disabled={!nextCursor} onClick={() => pages.next(nextCursor)}>
        Next page
      </button>
    </nav>
  );
}
