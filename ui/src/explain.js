// What an API failure means for the person, in words.

/** A failure of `action`, said plainly. */
export function explain(error, action) {
  if (!error) return null;
  if (error.status === 409) {
    return `This task changed before you could ${action} it (someone else acted on it): ${error.message}`;
  }
  if (error.status === 403) return `You may not ${action} this task: ${error.message}`;
  if (error.status === 404) return `No such task, or not one you may see.`;
  return error.message;
}

/** What a 409 meant, from the task as it is now (null when it says nothing more). */
export function conflict(view, me, action) {
  const task = view && view.task;
  if (!task) return null;
  if (task.status === 'CLAIMED' && task.assignee && task.assignee.id !== me) {
    return `Someone else (${task.assignee.id}) claimed this task before you could ${action} it.`;
  }
  return `This task changed before you could ${action} it: it is now ${task.status}.`;
}
